/* Shortest round-trip float formatting with Python's layout rules (see pyrepr.h). */
#include "tensor/pyrepr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest "%.*e" form that reads back exactly: digits (no dot, trailing zeros dropped) and
 * the decimal exponent of the first digit. */
static void shortest_digits(double x, char *digits, int *exp10) {
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    char *e = strchr(tmp, 'e');
    *exp10 = atoi(e + 1);
    int n = 0;
    for (const char *p = tmp; p < e; p++)
        if (*p >= '0' && *p <= '9') digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0') n--;
    digits[n] = '\0';
}

static void format_fixed(char *out, const char *d, int e) {
    int nd = (int)strlen(d);
    if (e < 0) { /* 0.000ddd */
        out += sprintf(out, "0.");
        for (int i = 0; i < -e - 1; i++) *out++ = '0';
        strcpy(out, d);
        return;
    }
    for (int i = 0; i <= e; i++) *out++ = i < nd ? d[i] : '0'; /* integer part */
    *out++ = '.';
    if (nd > e + 1) strcpy(out, d + e + 1);
    else strcpy(out, "0");
}

void tn_py_float_repr(char *buf, double x) {
    if (isnan(x)) { strcpy(buf, "NaN"); return; }
    if (isinf(x)) { strcpy(buf, x > 0 ? "Infinity" : "-Infinity"); return; }
    if (signbit(x)) *buf++ = '-';
    x = fabs(x);
    if (x == 0.0) { strcpy(buf, "0.0"); return; }
    char d[24];
    int e;
    shortest_digits(x, d, &e);
    if (e >= -4 && e < 16) { /* Python: decimal point position e+1 in (-4, 16] */
        format_fixed(buf, d, e);
        return;
    }
    buf += sprintf(buf, "%c", d[0]);
    if (d[1]) buf += sprintf(buf, ".%s", d + 1);
    sprintf(buf, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
}
