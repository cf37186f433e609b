#!/usr/bin/python3
"""Independent reference for tests/unit/test_dtype.c (standard library only).

Narrow float formats are computed with exact rationals (fractions.Fraction) and
round-half-to-even written out by hand; f16 also uses struct's 'e' format, which
rounds half to even. Output: one lower-case hex bit pattern per line, or "nan".

  dtype_ref.py fp8_decode          256 lines: f32 bits of each e4m3fn code
  dtype_ref.py f16_decode          65536 lines: f32 bits of each binary16 code (struct 'e')
  dtype_ref.py round FILE          FILE = little-endian f32 values; per value one line
                                   "<bf16> <f16> <e4m3fn>" (torch cast semantics)
"""
import struct
import sys
from fractions import Fraction


def f32_bits(x):
    return struct.unpack('<I', struct.pack('<f', x))[0]


def round_even(q):
    """Nearest integer to the Fraction q, ties to even."""
    fl = q.numerator // q.denominator
    rem = q - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return fl


def round_format(x, p, emin):
    """|x| (Fraction > 0) rounded to p significant bits, exponent >= emin (subnormals below).
    Returns (integer significand, exponent of its last bit). Exponent range unbounded above."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** e > x:
        e -= 1
    while Fraction(2) ** (e + 1) <= x:
        e += 1
    e = max(e, emin)  # e = exponent of the leading bit (or emin for subnormals)
    ulp_exp = e - (p - 1)
    m = round_even(x / Fraction(2) ** ulp_exp)
    return m, ulp_exp


def to_bf16(v):
    bits = f32_bits(v)
    sign = (bits >> 16) & 0x8000
    if v != v:
        return 0x7fc0
    if v in (float('inf'), float('-inf')):
        return sign | 0x7f80
    if v == 0:
        return sign
    m, ue = round_format(abs(Fraction(v)), 8, -126)
    if m == 0:
        return sign
    value = m * Fraction(2) ** ue
    if value >= Fraction(2) ** 128:
        return sign | 0x7f80
    # re-encode: normal if value >= 2^-126
    if value < Fraction(2) ** -126:
        return sign | int(value / Fraction(2) ** -133)
    e = 0
    while Fraction(2) ** (e + 1) <= value:
        e += 1
    while Fraction(2) ** e > value:
        e -= 1
    frac = int((value / Fraction(2) ** e - 1) * 128)
    return sign | ((e + 127) << 7) | frac


def to_f16(v):
    if v != v:
        return None
    try:
        return struct.unpack('<H', struct.pack('<e', v))[0]
    except OverflowError:  # struct refuses values that round past 65504: they become inf
        return 0xfc00 if v < 0 else 0x7c00


def to_e4m3fn(v):
    """torch's non-saturating cast: NaN, inf and anything that rounds above 448 -> NaN."""
    sign = 0x80 if f32_bits(v) >> 31 else 0
    if v != v or v in (float('inf'), float('-inf')):
        return sign | 0x7f
    if v == 0:
        return sign
    m, ue = round_format(abs(Fraction(v)), 4, -6)
    value = m * Fraction(2) ** ue
    if value > 448:
        return sign | 0x7f
    if value < Fraction(2) ** -6:
        return sign | int(value / Fraction(2) ** -9)
    e = -6
    while Fraction(2) ** (e + 1) <= value:
        e += 1
    frac = int((value / Fraction(2) ** e - 1) * 8)
    return sign | ((e + 7) << 3) | frac


def fp8_decode():
    for c in range(256):
        s, e, m = c >> 7, (c >> 3) & 15, c & 7
        if e == 15 and m == 7:
            print('nan')
            continue
        val = Fraction(m, 8) * Fraction(2) ** -6 if e == 0 else (1 + Fraction(m, 8)) * Fraction(2) ** (e - 7)
        x = float(val)
        print('%08x' % f32_bits(-x if s else x))


def f16_decode():
    for c in range(65536):
        x = struct.unpack('<e', struct.pack('<H', c))[0]
        print('nan' if x != x else '%08x' % f32_bits(x))


def round_file(path):
    data = open(path, 'rb').read()
    for (v,) in struct.iter_unpack('<f', data):
        h = to_f16(v)
        print('%04x %s %02x' % (to_bf16(v), 'nan' if h is None else '%04x' % h, to_e4m3fn(v)))


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'fp8_decode':
        fp8_decode()
    elif mode == 'f16_decode':
        f16_decode()
    elif mode == 'round':
        round_file(sys.argv[2])
    else:
        sys.exit('unknown mode ' + mode)
