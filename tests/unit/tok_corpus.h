/* Seeded generator of diverse test strings for tokenizer parity: many scripts, emoji and ZWJ
 * sequences, combining marks, whitespace runs and mixed newlines, code, numbers, text holding
 * special-token strings, very long words, control characters and unassigned code points. */
#ifndef NEWT_TESTS_TOK_CORPUS_H
#define NEWT_TESTS_TOK_CORPUS_H

#include <stdint.h>
#include <string.h>

#include "base/mem.h"

static inline uint64_t tc_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
static inline uint32_t tc_pick(uint64_t *s, uint32_t n) { return (uint32_t)(tc_rand(s) % n); }

static inline void tc_cp(nt_buf *b, uint32_t c) {
    char u[4];
    int n;
    if (c < 0x80) u[0] = (char)c, n = 1;
    else if (c < 0x800) u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 63)), n = 2;
    else if (c < 0x10000)
        u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | (c >> 6 & 63)), u[2] = (char)(0x80 | (c & 63)), n = 3;
    else
        u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | (c >> 12 & 63)), u[2] = (char)(0x80 | (c >> 6 & 63)),
        u[3] = (char)(0x80 | (c & 63)), n = 4;
    nt_buf_append(b, u, (size_t)n);
}

/* Script blocks (first, last): Latin to CJK, RTL, Indic, SE Asian, African, astral. */
static const uint32_t tc_scripts[][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xC0, 0x24F}, {0x370, 0x3FF}, {0x400, 0x4FF}, {0x531, 0x587},
    {0x5D0, 0x5EA}, {0x600, 0x6FF}, {0x700, 0x74F}, {0x780, 0x7B1}, {0x900, 0x97F}, {0x980, 0x9FF},
    {0xA00, 0xA7F}, {0xB80, 0xBFF}, {0xC00, 0xC7F}, {0xD00, 0xD7F}, {0xE00, 0xE7F}, {0xE80, 0xEFF},
    {0xF00, 0xFFF}, {0x1000, 0x109F}, {0x10A0, 0x10FF}, {0x1100, 0x11FF}, {0x1200, 0x137F},
    {0x13A0, 0x13FF}, {0x1780, 0x17FF}, {0x1800, 0x18AF}, {0x1E00, 0x1EFF}, {0x1F00, 0x1FFF},
    {0x2000, 0x206F}, {0x2070, 0x209F}, {0x20A0, 0x20CF}, {0x2100, 0x218F}, {0x2190, 0x22FF},
    {0x2500, 0x257F}, {0x2600, 0x27BF}, {0x2C00, 0x2C5F}, {0x2E80, 0x2FDF}, {0x3000, 0x303F},
    {0x3040, 0x30FF}, {0x3100, 0x312F}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA48F},
    {0xA4D0, 0xA4FF}, {0xA980, 0xA9DF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFB00, 0xFDFF},
    {0xFE30, 0xFE4F}, {0xFF00, 0xFFEF}, {0x10330, 0x1034F}, {0x10400, 0x1044F}, {0x12000, 0x123FF},
    {0x13000, 0x1342F}, {0x16A0, 0x16FF}, {0x1D100, 0x1D1FF}, {0x1D400, 0x1D7FF}, {0x1E900, 0x1E95F},
    {0x1F000, 0x1F0FF}, {0x1F300, 0x1FAFF}, {0x20000, 0x2A6DF}, {0x2F800, 0x2FA1F},
};
static const uint32_t tc_spaces[] = {' ', ' ', ' ', '\t', '\n', '\r', 0x0B, 0x0C, 0xA0, 0x85, 0x1680,
                                     0x2000, 0x2007, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
                                     0x180E, 0x200B, 0xFEFF, 0x1C, 0x1F};
static const uint32_t tc_digits[] = {'0', 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0xFF10, 0x1D7CE, 0x2160, 0xBD, 0xB2};
static const char *const tc_snippets[] = {
    "if (x) {\n    return y;\n}\n", "#include <stdio.h>", "a->b", "foo_bar = 1;", "x+=2//3",
    "https://example.com/a/b?q=1&r=2", "don't", "I'll", "we've", "'S", "'s'", "\"quoted\"", "<div class=\"a\">",
    "</div>\r\n", "$ ls -la /tmp", "  def f(self):\n\t\tpass", "e = mc^2", "...", "!!!", "???", "--", "C:\\\\Users",
    "{\"k\": [1, 2.5e-3]}", "/* c */", "// x/y/\n", "~/.bashrc", "@user #tag", "100%", "3.14159", "1,000,000",
    "0x1F", "a_b_c", "CamelCaseWord", "HTTPServer", "ÀÉÎõü", "ǅungla", "ﬁne", "ß", "İstanbul",
    "hello", " hello ", "Othello", "hello_world", "say hello!", "héllo", "xhello", "hello2", "  [INST]  ",
};
static const char *const tc_specials[] = {
    "<s>", "</s>", "<unk>", "<pad>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[IMG]", "[IMG_BREAK]", "[IMG_END]",
    "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[THINK]", "[/THINK]", "[ARGS]", "[CALL_ID]",
    "[MODEL_SETTINGS]", "<SPECIAL_42>", "<SPECIAL_999>", "<SPECIAL_1000>", "<SPECIAL_", "<s", "[INST",
    "[[INST]]", "<<s>>", "</s></s>", "[INST][/INST]", "<S>", "[inst]",
};

#define TC_N(a) (sizeof(a) / sizeof *(a))

static inline void tc_segment(nt_buf *b, uint64_t *s) {
    uint32_t k = tc_pick(s, 13), n;
    switch (k) {
    case 0: /* ASCII words */
        n = 1 + tc_pick(s, 4);
        for (uint32_t w = 0; w < n; w++) {
            if (w || tc_pick(s, 2)) nt_buf_putc(b, ' ');
            uint32_t len = 1 + tc_pick(s, 11), up = tc_pick(s, 4);
            for (uint32_t i = 0; i < len; i++)
                nt_buf_putc(b, (char)((up == 0 || (up == 1 && i == 0) ? 'A' : 'a') + tc_pick(s, 26)));
        }
        break;
    case 1: case 2: { /* a script run */
        const uint32_t *r = tc_scripts[tc_pick(s, TC_N(tc_scripts))];
        n = 1 + tc_pick(s, 10);
        if (tc_pick(s, 3) == 0) nt_buf_putc(b, ' ');
        for (uint32_t i = 0; i < n; i++) tc_cp(b, r[0] + tc_pick(s, r[1] - r[0] + 1));
        break;
    }
    case 3: /* whitespace run */
        n = 1 + tc_pick(s, 8);
        for (uint32_t i = 0; i < n; i++) tc_cp(b, tc_spaces[tc_pick(s, TC_N(tc_spaces))]);
        break;
    case 4: { /* newlines mixed with spaces */
        static const char *const nl[] = {"\n", "\r\n", "\r", "\n\n", " \n", "\n ", "  \r\n  ", "\t\n", "\n\n\n"};
        n = 1 + tc_pick(s, 3);
        for (uint32_t i = 0; i < n; i++) nt_buf_puts(b, nl[tc_pick(s, TC_N(nl))]);
        break;
    }
    case 5: { /* numbers */
        uint32_t base = tc_digits[tc_pick(s, TC_N(tc_digits))];
        n = 1 + tc_pick(s, 12);
        if (tc_pick(s, 2)) nt_buf_putc(b, ' ');
        for (uint32_t i = 0; i < n; i++) tc_cp(b, base + (base == 0xBD || base == 0xB2 ? 0 : tc_pick(s, 10)));
        break;
    }
    case 6: nt_buf_puts(b, tc_snippets[tc_pick(s, TC_N(tc_snippets))]); break;
    case 7: { /* emoji: single, skin tone, ZWJ family, flag, keycap */
        static const uint32_t em[] = {0x1F600, 0x1F389, 0x2764, 0x1F44D, 0x1F468, 0x1F469, 0x1F467, 0x1F466, 0x1F3F3, 0x1F308};
        uint32_t v = tc_pick(s, 5);
        if (v == 0) tc_cp(b, em[tc_pick(s, TC_N(em))]);
        else if (v == 1) { tc_cp(b, 0x1F44B); tc_cp(b, 0x1F3FB + tc_pick(s, 5)); }
        else if (v == 2) { tc_cp(b, 0x1F468); tc_cp(b, 0x200D); tc_cp(b, 0x1F469); tc_cp(b, 0x200D); tc_cp(b, 0x1F467); tc_cp(b, 0x200D); tc_cp(b, 0x1F466); }
        else if (v == 3) { tc_cp(b, 0x1F1E6 + tc_pick(s, 26)); tc_cp(b, 0x1F1E6 + tc_pick(s, 26)); }
        else { tc_cp(b, '0' + tc_pick(s, 10)); tc_cp(b, 0xFE0F); tc_cp(b, 0x20E3); }
        break;
    }
    case 8: { /* combining marks on letters, Indic clusters */
        n = 1 + tc_pick(s, 4);
        for (uint32_t i = 0; i < n; i++) {
            tc_cp(b, tc_pick(s, 2) ? 'a' + tc_pick(s, 26) : 0x915 + tc_pick(s, 30));
            uint32_t m = tc_pick(s, 4);
            for (uint32_t j = 0; j < m; j++) tc_cp(b, tc_pick(s, 3) ? 0x300 + tc_pick(s, 0x70) : 0x93E + tc_pick(s, 16));
        }
        break;
    }
    case 9: /* special-token strings, whole or broken */
        if (tc_pick(s, 2)) nt_buf_putc(b, ' ');
        nt_buf_puts(b, tc_specials[tc_pick(s, TC_N(tc_specials))]);
        break;
    case 10: { /* long word, long digit run or long whitespace run (rarely) */
        if (tc_pick(s, 6)) { tc_cp(b, 'a' + tc_pick(s, 26)); break; }
        n = 100 + tc_pick(s, 1200);
        uint32_t v = tc_pick(s, 4);
        const uint32_t *r = tc_scripts[tc_pick(s, TC_N(tc_scripts))];
        for (uint32_t i = 0; i < n; i++)
            tc_cp(b, v == 0 ? 'a' + tc_pick(s, 26) : v == 1 ? r[0] + tc_pick(s, r[1] - r[0] + 1) : v == 2 ? '0' + tc_pick(s, 10) : ' ');
        break;
    }
    case 11: { /* any code point of planes 0-2 and 14, unassigned included (no surrogates) */
        n = 1 + tc_pick(s, 4);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = tc_pick(s, 0x30000);
            if (c >= 0xD800 && c <= 0xDFFF) c = 0xE000 + tc_pick(s, 0x1000);
            if (tc_pick(s, 8) == 0) c = 0xE0000 + tc_pick(s, 0x200);
            tc_cp(b, c);
        }
        break;
    }
    default: /* controls and format characters, NUL included */
        tc_cp(b, (const uint32_t[]){0, 1, 7, 0x1B, 0x7F, 0x85, 0xAD, 0x200C, 0x200D, 0x2060, 0xFEFF, 0xFFFD}[tc_pick(s, 12)]);
        break;
    }
}

/* One test string: 1..12 segments. */
static inline void tc_string(nt_buf *b, uint64_t *s) {
    b->len = 0;
    uint32_t n = 1 + tc_pick(s, 12);
    for (uint32_t i = 0; i < n; i++) tc_segment(b, s);
    nt_buf_putc(b, 0);
    b->len--;
}

#endif
