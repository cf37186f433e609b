/* Queries over provenance spans that training masks need. */
#include "template/tmpl.h"

static bool turn_field(int f) {
    return f == TMPL_F_CONTENT || f == TMPL_F_THINKING || f == TMPL_F_REASONING || f == TMPL_F_TOOL_CALLS;
}

static bool span_range(const tmpl_output *o, int32_t msg, bool turn_only, size_t *start, size_t *end) {
    bool found = false;
    for (size_t i = 0; i < o->nspans; i++) {
        const tmpl_span *s = &o->spans[i];
        if (s->message != msg || (turn_only && !turn_field(s->field))) continue;
        if (!found) *start = s->start;
        *end = s->end;
        found = true;
    }
    return found;
}

bool tmpl_turn_span(const tmpl_output *o, int32_t msg, size_t *start, size_t *end) {
    return span_range(o, msg, true, start, end);
}

bool tmpl_message_span(const tmpl_output *o, int32_t msg, size_t *start, size_t *end) {
    return span_range(o, msg, false, start, end);
}
