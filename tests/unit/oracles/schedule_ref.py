"""Reference for test_schedule: the learning rate each optimizer step uses under torch's
LambdaLR with transformers' (and axolotl's) schedule lambdas, written out below.

usage: schedule_ref.py {KIND BASE_LR W T RATE NSTEPS}...
For each case, NSTEPS lines: float.hex of the lr the s-th optimizer.step() used.
Uses torch's LambdaLR when torch imports, else base_lr * lambda(s), which is what LambdaLR
computes."""
import math
import sys

args = sys.argv[1:]
W = T = 0
rate = 0.0


def linear(s):
    if s < W:
        return float(s) / float(max(1, W))
    return max(0.0, float(T - s) / float(max(1, T - W)))


def cosine(s, num_cycles=0.5):
    if s < W:
        return float(s) / float(max(1, W))
    progress = float(s - W) / float(max(1, T - W))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def constant(s):
    return 1.0


def constant_with_warmup(s):
    if s < W:
        return float(s) / float(max(1.0, W))
    return 1.0


def cosine_with_min_lr(s, num_cycles=0.5):
    if s < W:
        return float(s) / float(max(1, W))
    progress = float(s - W) / float(max(1, T - W))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    factor = factor * (1 - rate) + rate
    return max(0, factor)


def axolotl_cosine_min_lr_ratio(s):
    if s < W:
        return float(s) / float(max(1, W))
    progress = float(s - W) / float(max(1, T - W))
    scaling = 0.5 * (1.0 + math.cos(math.pi * progress))
    return (1 - rate) * scaling + rate


try:
    import torch
except ImportError:
    torch = None

for c in range(0, len(args), 6):
    kind, base, W, T, rate, nsteps = args[c:c + 6]
    base, W, T, rate, nsteps = float(base), int(W), int(T), float(rate), int(nsteps)
    lam = globals()[kind]
    if torch is not None:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
        for _ in range(nsteps):
            print(float(opt.param_groups[0]["lr"]).hex())
            opt.step()
            sched.step()
    else:
        for s in range(nsteps):
            print(float(base * lam(s)).hex())
