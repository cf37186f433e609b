/* Python's repr() of a float, as json.dumps writes it: the shortest digit string that reads
 * back as the same double, fixed notation for 1e-4 <= |x| < 1e16 ("0.0001", "123.0"), else
 * scientific with a signed two-digit-minimum exponent ("1e-05", "1.5e+16"); NaN/inf as
 * json.dumps spells them ("NaN", "Infinity", "-Infinity").
 * Local to src/tensor until formats/json.h's json_float_repr lands; then this can forward. */
#ifndef NEWT_TENSOR_PYREPR_H
#define NEWT_TENSOR_PYREPR_H

/* buf must hold at least 32 bytes. */
void tn_py_float_repr(char *buf, double x);

#endif
