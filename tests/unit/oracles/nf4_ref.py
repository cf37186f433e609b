#!/usr/bin/python3
"""Independent reference for NF4 + double quantization (tests/unit/test_nf4.c), written
from spec formats.md §3.1-3.4 and §4.5 with the standard library only.

f32 arithmetic: each +, -, *, / of two f32 values is done in double and rounded once to f32
with struct (exact: double has more than 2*24+2 bits). fmaf(a, b, c) for the linspace is the
same, since a*b+c is exact in double for the operands involved (checked by assertion).

  nf4_ref.py FILE BLOCKSIZE DOUBLE_QUANT(0/1)
FILE holds little-endian f32 values. Output lines:
  packed <hex bytes>
  absmax <f32 hex>...            (without double quant)
  offset <f32 hex> / qabsmax <hex bytes> / nested <f32 hex>...   (with double quant)
  deq <f32 hex>...               dequantized values
"""
import struct
import sys
from fractions import Fraction

CODE_HEX = ['bf800000', 'bf3239b1', 'bf066b30', 'beca32a0', 'be91a24d', 'be3d353f', 'bdba7871',
            '00000000', '3da2faff', '3e24cae3', '3e7c04dd', '3ead033a', '3ee1a4b8', '3f1007ab',
            '3f3913b3', '3f800000']
THRESH_HEX = ('bf591cd8 bf1c5270 beeb8480 beadea76 be703cec be0d38bc bd3a7871 3d22faff '
              '3df64862 3e5067e0 3e9582d4 3ec753f9 3f006d04 3f248daf 3f5c89da').split()


def from_hex(h):
    return struct.unpack('>f', bytes.fromhex(h))[0]


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def hx(x):
    return '%08x' % struct.unpack('<I', struct.pack('<f', x))[0]


CODE = [from_hex(h) for h in CODE_HEX]
THRESH = [from_hex(h) for h in THRESH_HEX]


def fmaf(a, b, c):
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    assert Fraction(a * b + c) == exact
    return f32(a * b + c)


def linspace(k):
    start, end = f32(0.1), 1.0
    step = f32(f32(end - start) / (k - 1))
    return [fmaf(step, i, start) if i < k // 2 else fmaf(-step, k - 1 - i, end) for i in range(k)]


def signed_dynamic_map():
    data = []
    for i in range(7):
        b = linspace(2 ** i + 1)
        scale = f32(10.0 ** (i - 6))
        for j in range(len(b) - 1):
            mean = f32(f32(b[j] + b[j + 1]) / 2)
            data += [f32(scale * mean), f32(-scale * mean)]
    data += [0.0, 1.0]
    assert len(data) == 256
    return sorted(data)


def recip(a):
    return float('inf') if a == 0 else f32(1.0 / a)


def mul(a, b):
    if (a == 0 and b == float('inf')) or (b == 0 and a == float('inf')):
        return float('nan')
    return f32(a * b)


def dquantize(code, x):
    pivot, lo, hi, lower, upper = 127, 0, 255, -1.0, 1.0
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lo, lower, pivot = pivot, val, pivot + i
        else:
            hi, upper, pivot = pivot, val, pivot - i
        val = code[pivot]
        i //= 2
    if hi == 255:
        upper = code[255]
    if lo == 0:
        lower = code[0]
    if x > val:
        return hi if x > f32((upper + val) / 2) else pivot
    return lo if x < f32((lower + val) / 2) else pivot


def main():
    path, bs, dq = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
    x = [v for (v,) in struct.iter_unpack('<f', open(path, 'rb').read())]
    n = len(x)
    q, absmax = [], []
    for s in range(0, n, bs):
        blk = x[s:s + bs]
        a = max([abs(v) for v in blk if v == v], default=0.0)
        absmax.append(a)
        inv = recip(a)
        q += [sum(1 for t in THRESH if mul(v, inv) > t) for v in blk]
    qp = q + [0] * (n % 2)
    print('packed', bytes((qp[i] << 4) | qp[i + 1] for i in range(0, len(qp), 2)).hex())
    if dq:
        offset = f32(sum(absmax) / len(absmax))
        v = [f32(a - offset) for a in absmax]
        code8 = signed_dynamic_map()
        qa, nested = [], []
        for s in range(0, len(v), 256):
            blk = v[s:s + 256]
            a2 = max(abs(t) for t in blk)
            nested.append(a2)
            inv2 = recip(a2)
            qa += [dquantize(code8, mul(t, inv2)) for t in blk]
        print('offset', hx(offset))
        print('qabsmax', bytes(qa).hex())
        print('nested', ' '.join(hx(t) for t in nested))
        absmax = [f32(f32(code8[qa[b]] * nested[b // 256]) + offset) for b in range(len(qa))]
    else:
        print('absmax', ' '.join(hx(a) for a in absmax))
    print('deq', ' '.join(hx(f32(CODE[q[i]] * absmax[i // bs])) for i in range(n)))


if __name__ == '__main__':
    main()
