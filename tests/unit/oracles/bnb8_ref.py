"""Independent reference for test_optim: bitsandbytes' AdamW with optim_bits=8, written from
spec formats.md §4.2-§4.5 in numpy float32 (no torch, no bitsandbytes needed).

usage: bnb8_ref.py SIZES WDS STEPS W T LR DATA OUT
DATA: f32 initial params, then each step's grads (as optim_torch.py).
OUT: the two dynamic maps (signed, unsigned; f32[256] each), final params, then per tensor:
n < 4096: state1, state2 as f32; else state1, state2 codes (u8, sent as f32) and absmax1,
absmax2 (f32)."""
import math
import sys

import numpy as np

f32 = np.float32
sizes, wds, steps, W, T, lr0, data, out = sys.argv[1:]
sizes = [int(x) for x in sizes.split(",")]
wds = [f32(float(x)) for x in wds.split(",")]
steps, W, T, lr0 = int(steps), int(W), int(T), float(lr0)
B1, B2, EPS, BLOCK = f32(0.9), f32(0.999), f32(1e-8), 256


def linspace(k):
    """torch.linspace(0.1, 1, k) as bnb's table has it: each point rounded once, the first
    half counting up from start, the rest down from end (exact sums in double, one rounding
    to f32; products of two f32 are exact in double)."""
    start, end = f32(0.1), f32(1.0)
    step = f32((end - start) / f32(k - 1))
    return np.array([f32(float(start) + float(step) * i) if i < k // 2
                     else f32(float(end) - float(step) * (k - 1 - i)) for i in range(k)], f32)


def dynamic_map(signed):
    vals = []
    for i in range(7):
        k = 2 ** i + 1 if signed else 2 ** (i + 1) + 1
        b = linspace(k)
        means = (b[:-1] + b[1:]) / f32(2)
        scale = f32(10.0 ** (i - 6))
        vals += list(scale * means)
        if signed:
            vals += list(-(scale * means))
    vals += [f32(0), f32(1)]
    return np.array(sorted(vals), f32)


def quantize(code, x):
    """dQuantize's binary search (spec §3.4), vectorised."""
    pivot = np.full(x.shape, 127)
    lo, hi = np.zeros(x.shape, int), np.full(x.shape, 255)
    lower, upper = np.full(x.shape, f32(-1)), np.full(x.shape, f32(1))
    val = code[pivot]
    i = 64
    while i > 0:
        gt = x > val
        lo, lower = np.where(gt, pivot, lo), np.where(gt, val, lower)
        hi, upper = np.where(gt, hi, pivot), np.where(gt, upper, val)
        pivot = np.where(gt, pivot + i, pivot - i)
        val = code[pivot]
        i //= 2
    upper = np.where(hi == 255, code[255], upper)
    lower = np.where(lo == 0, code[0], lower)
    gt = x > val
    up = np.where(x > (upper + val) * f32(0.5), hi, pivot)
    down = np.where(x < (lower + val) * f32(0.5), lo, pivot)
    return np.where(gt, up, down)


Q1, Q2 = dynamic_map(True), dynamic_map(False)


class State:
    def __init__(self, n):
        self.n = n
        self.is8 = n >= 4096
        if self.is8:
            nb = (n + BLOCK - 1) // BLOCK
            self.c1, self.c2 = np.zeros(n, int), np.zeros(n, int)
            self.a1, self.a2 = np.zeros(nb, f32), np.zeros(nb, f32)
        else:
            self.m, self.v = np.zeros(n, f32), np.zeros(n, f32)


def step32(p, g, s, lr, wd, step_size, c2):
    s.m = s.m * B1 + (f32(1) - B1) * g
    s.v = s.v * B2 + (f32(1) - B2) * (g * g)
    p = p + step_size * (s.m / (np.sqrt(s.v) + EPS * c2))
    if wd > 0:
        p = p * (f32(1) - lr * wd)
    return p


def step8(p, g, s, lr, wd, step_size, c2):
    n = s.n
    nb = len(s.a1)
    pad = nb * BLOCK - n
    gp = np.concatenate([g, np.zeros(pad, f32)])
    c1 = np.concatenate([s.c1, np.full(pad, 128)])
    cv = np.concatenate([s.c2, np.zeros(pad, int)])
    a1, a2 = np.repeat(s.a1, BLOCK), np.repeat(s.a2, BLOCK)
    fin = np.isfinite(gp)
    v = Q2[cv] * a2 * B2 + (f32(1) - B2) * gp * gp
    m = Q1[c1] * a1 * B1 + (f32(1) - B1) * gp
    m[~fin], v[~fin] = f32(0), f32(0)
    s.a1 = np.abs(m).reshape(nb, BLOCK).max(axis=1).astype(f32)
    s.a2 = np.abs(v).reshape(nb, BLOCK).max(axis=1).astype(f32)
    ok = fin[:n]
    upd = p + step_size * (m[:n] / (np.sqrt(v[:n]) + c2 * EPS))
    if wd > 0:
        upd = upd * (f32(1) - lr * wd)
    p = np.where(ok, upd, p)
    q1 = quantize(Q1, m / np.repeat(s.a1, BLOCK))
    flip = np.signbit(Q1[q1]) != np.signbit(m)
    q1 = np.where(flip, (q1 + np.where(m > 0, 1, -1)) % 256, q1)
    q2 = quantize(Q2, v / np.repeat(s.a2, BLOCK))
    s.c1, s.c2 = q1[:n], q2[:n]
    return p


def lam(s):
    if s < W:
        return float(s) / float(max(1, W))
    progress = float(s - W) / float(max(1, T - W))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress)))


raw = np.fromfile(data, dtype="<f4")
off = 0
ps = []
for n in sizes:
    ps.append(raw[off:off + n].copy())
    off += n
sts = [State(n) for n in sizes]
with np.errstate(all="ignore"):
    for k in range(steps):
        lr = f32(lr0 * lam(k))
        t = f32(k + 1)
        c1 = f32(1) - B1 ** t
        c2 = np.sqrt(f32(1) - B2 ** t)
        step_size = -lr * c2 / c1
        for i, n in enumerate(sizes):
            g = raw[off:off + n]
            off += n
            fn = step8 if sts[i].is8 else step32
            ps[i] = fn(ps[i], g, sts[i], lr, wds[i], step_size, c2)
res = [Q1, Q2] + ps
for s in sts:
    res += [s.c1, s.c2, s.a1, s.a2] if s.is8 else [s.m, s.v]
np.concatenate([np.asarray(r).astype("<f4").ravel() for r in res]).tofile(out)
