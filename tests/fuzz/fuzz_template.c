/* Fuzzes the template engine: any input must compile or fail with an error, and a compiled
 * template must render or fail within its limits — never crash, hang, leak or blow memory. */
#include "base/fileio.h"
#include "formats/json.h"
#include "fuzz.h"
#include "template/tmpl.h"

static const char *CONTEXT =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": "
    "[{\"type\": \"text\", \"text\": \"hi \\u00e9\"}, {\"type\": \"image\"}]}, {\"role\": \"assistant\", "
    "\"content\": \"A\", \"reasoning_content\": \"R\", \"tool_calls\": [{\"function\": {\"name\": \"f\", "
    "\"arguments\": {\"x\": [1, 2.5, null]}}}]}, {\"role\": \"tool\", \"content\": \"T\"}], \"tools\": "
    "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], \"add_generation_prompt\": true, "
    "\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"reasoning_effort\": \"high\"}";

static void add_file(fuzz_corpus *c, const char *path) {
    char *text = NULL;
    size_t n = 0;
    nt_err err = {0};
    if (nt_read_file(path, &text, &n, &err) == NT_OK) fuzz_add(c, text, n);
    free(text);
}

static void fuzz_seeds(fuzz_corpus *c) {
    static const char *seeds[] = {
        "{% for m in messages %}{{ m.role | upper }}: {{ m.content if m.content is string else m.content | map(attribute='type') | join(',') }}\n{% endfor %}",
        "{%- set ns = namespace(n=0) -%}{% for i in range(5) if i is odd %}{% set ns.n = ns.n + i %}{% if loop.last %}{{ ns.n }}{% endif %}{% endfor %}",
        "{% macro m(a, b=2) %}[{{ a ~ b }}{{ caller() if caller is defined }}]{% endmacro %}{% call m(1) %}x{% endcall %}{{ m('q', b=none) }}",
        "{{ tools | tojson }}{{ messages[-1:] }}{{ 'a b'.split() }}{{ {'k': [1, 2][::-1]} | dictsort }}{{ raise_exception('boom') if false }}",
        "  {% if add_generation_prompt -%}\n  x {#- c -#} {{- ' y ' | trim }}\n{%- endif %}\n{% raw %}{{ z }}{% endraw %}",
        "{% set x %}{{ 1 / 3 }}{% endset %}{{ x | replace('3', '4') | indent(2, true) }}{{ (messages | first).content }}{{ 2 ** 8 // 3 % 5 }}",
        /* once crashed: an attribute path that is not a string */
        "{{ messages | map(attribute='role' | join > ',') | list }}{{ messages | selectattr(none) | map(attribute=0) | list }}",
        "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}{{ c.function.arguments | tojson }}{% endfor %}{% endif %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) fuzz_add(c, seeds[i], strlen(seeds[i]));
    static const char *files[] = {"examples/tiny/chat_template.jinja", "tests/templates/chatml_tools.jinja",
                                  "tests/templates/llama3_style.jinja", "tests/templates/gemma_style.jinja",
                                  "tests/templates/phi_style.jinja", "tests/templates/deepseek_style.jinja"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) add_file(c, files[i]);
}

static void fuzz_target(const uint8_t *data, size_t n) {
    static val *ctx;
    if (!ctx && json_parse(CONTEXT, strlen(CONTEXT), &ctx, NULL)) abort();
    tmpl *t = NULL;
    nt_err err = {0};
    if (tmpl_compile((const char *)data, n, "fuzz", &t, &err) != NT_OK) return;
    tmpl_opts o = {.max_output = 1 << 20, .max_memory = 16 << 20, .max_steps = 20000, .max_depth = 16,
                   .now = "2026-03-16T12:00:00"};
    tmpl_output out = {0};
    if (tmpl_render(t, ctx, &o, &out, &err) == NT_OK) {
        size_t pos = 0; /* the spans must tile the output */
        for (size_t i = 0; i < out.nspans; i++) {
            if (out.spans[i].start != pos || out.spans[i].end <= pos) abort();
            pos = out.spans[i].end;
        }
        if (pos != out.len) abort();
    }
    tmpl_output_free(&out);
    tmpl_free(t);
}

FUZZ_MAIN()
