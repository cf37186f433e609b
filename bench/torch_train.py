"""PyTorch side of bench/train: one training step of the benchmark model on the CPU.

Run with Debian's PyTorch and the OpenMP build of OpenBLAS (shared/bench/README.md):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \
        bench/torch_train.py --mode lora|full [--seq T] [--steps N] [--warmup N] [--threads N]

The model is what a PyTorch user would write for the scaled Mistral-Small-4 shape (the same
model as shared/bench/mini_mistral4.py, which bench/train --check-baseline compares against):
hidden 512, 4 layers of MLA attention (8 heads, q rank 128, kv rank 64, nope 32, rope 32,
v 64) and a MoE (16 experts of width 256 as separate nn.Linear modules run in a loop, top-4
of a softmax router renormalized, 1 shared expert), an untied 32768-word head whose logits
are materialized for F.cross_entropy. full: AdamW over every parameter; lora: the base frozen
and r=16, alpha=32 adapters on q_a, q_b, kv_a, kv_b and o, AdamW over the adapters.
AdamW is torch.optim.AdamW(lr=1e-4) with its defaults (betas 0.9/0.999, eps 1e-8, weight
decay 0.01), no gradient clipping. Random ids and random labels on all T positions, batch 1.

Prints one line in train_step's format (bench/train parses key=NUMBER):
    torch mode=lora T=512 threads=2 params=62.3M trainable=0.240M step median=.. ms (min ..,
    max .., n=5) tokens/s=.. model-fwd GFLOP/token=0.0554 achieved=.. GFLOP/s maxrss=.. MiB
    loss=..
"""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN, LAYERS, HEADS = 512, 4, 8
Q_RANK, KV_RANK, NOPE, ROPE_DIM, V_DIM = 128, 64, 32, 32, 64
EXPERTS, TOP_K, EXPERT_WIDTH, SHARED = 16, 4, 256, 1
VOCAB = 32768
LORA_R, LORA_ALPHA = 16, 32.0
EPS = 1e-6


def forward_flops_per_token(seq):
    """The FLOP model of bench/README.md: 2 per multiply-add over the linears, causal
    attention over seq/2 keys on average, the MoE (router + routed and shared experts, three
    matrices each) and the head."""
    qk = NOPE + ROPE_DIM
    linears = (HIDDEN * Q_RANK + Q_RANK * HEADS * qk + HIDDEN * (KV_RANK + ROPE_DIM)
               + KV_RANK * HEADS * (NOPE + V_DIM) + HEADS * V_DIM * HIDDEN)
    attention = HEADS * (qk + V_DIM) * seq / 2
    moe = HIDDEN * EXPERTS + (TOP_K + SHARED) * 3 * HIDDEN * EXPERT_WIDTH
    return 2 * (LAYERS * (linears + attention + moe) + HIDDEN * VOCAB)


class Projection(nn.Module):
    """A bias-free linear, weight ~ N(0, 1/in); with adapters, y += (alpha/r)·(x Aᵀ) Bᵀ where
    A ~ N(0, 1/in) and B starts at zero."""

    def __init__(self, n_in, n_out, adapters):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / math.sqrt(n_in))
        self.adapters = adapters
        if adapters:
            self.lora_a = nn.Parameter(torch.randn(LORA_R, n_in) / math.sqrt(n_in))
            self.lora_b = nn.Parameter(torch.zeros(n_out, LORA_R))

    def forward(self, x):
        out = F.linear(x, self.weight)
        if not self.adapters:
            return out
        return out + (LORA_ALPHA / LORA_R) * F.linear(F.linear(x, self.lora_a), self.lora_b)


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.gain


def rotate(x, cos, sin):
    """RoPE on interleaved pairs (x[2i], x[2i+1]); the rotated halves are concatenated."""
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.cat((even * cos - odd * sin, even * sin + odd * cos), dim=-1)


class LatentAttention(nn.Module):
    def __init__(self, adapters):
        super().__init__()
        self.q_down = Projection(HIDDEN, Q_RANK, adapters)
        self.q_norm = RMSNorm(Q_RANK)
        self.q_up = Projection(Q_RANK, HEADS * (NOPE + ROPE_DIM), adapters)
        self.kv_down = Projection(HIDDEN, KV_RANK + ROPE_DIM, adapters)
        self.kv_norm = RMSNorm(KV_RANK)
        self.kv_up = Projection(KV_RANK, HEADS * (NOPE + V_DIM), adapters)
        self.out = Projection(HEADS * V_DIM, HIDDEN, adapters)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_up(self.q_norm(self.q_down(x))).view(b, t, HEADS, NOPE + ROPE_DIM).transpose(1, 2)
        q_nope, q_rope = q.split((NOPE, ROPE_DIM), dim=-1)
        latent, k_rope = self.kv_down(x).split((KV_RANK, ROPE_DIM), dim=-1)
        kv = self.kv_up(self.kv_norm(latent)).view(b, t, HEADS, NOPE + V_DIM).transpose(1, 2)
        k_nope, v = kv.split((NOPE, V_DIM), dim=-1)
        q_rope = rotate(q_rope, cos, sin)
        k_rope = rotate(k_rope.unsqueeze(1), cos, sin).expand(-1, HEADS, -1, -1)  # one shared rope key
        q = torch.cat((q_nope, q_rope), dim=-1)
        k = torch.cat((k_nope, k_rope), dim=-1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(NOPE + ROPE_DIM)
        future = torch.ones(t, t, dtype=torch.bool).triu(1)
        probs = scores.masked_fill(future, float('-inf')).softmax(dim=-1)
        return self.out((probs @ v).transpose(1, 2).reshape(b, t, HEADS * V_DIM))


class Expert(nn.Module):
    """SwiGLU: down(silu(gate x) * up x), three nn.Linear (default init)."""

    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(HIDDEN, EXPERT_WIDTH, bias=False)
        self.up = nn.Linear(HIDDEN, EXPERT_WIDTH, bias=False)
        self.down = nn.Linear(EXPERT_WIDTH, HIDDEN, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class MixtureOfExperts(nn.Module):
    """Top-k of a softmax router, renormalized; routed experts looped over (as HF's Mixtral
    and DeepSeek code does), plus shared experts applied to every token."""

    def __init__(self):
        super().__init__()
        self.router = nn.Linear(HIDDEN, EXPERTS, bias=False)
        self.routed = nn.ModuleList(Expert() for _ in range(EXPERTS))
        self.shared = nn.ModuleList(Expert() for _ in range(SHARED))

    def forward(self, x):
        shape = x.shape
        flat = x.reshape(-1, HIDDEN)
        weights, chosen = self.router(flat).softmax(dim=-1).topk(TOP_K, dim=-1)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        y = self.shared[0](flat)
        for s in self.shared[1:]:
            y = y + s(flat)
        for e, expert in enumerate(self.routed):
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            if rows.numel():
                y = y.index_add(0, rows, expert(flat[rows]) * weights[rows, slot, None])
        return y.view(shape)


class Layer(nn.Module):
    def __init__(self, adapters):
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(HIDDEN), LatentAttention(adapters)
        self.moe_norm, self.moe = RMSNorm(HIDDEN), MixtureOfExperts()

    def forward(self, x, cos, sin):
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.moe(self.moe_norm(x))


class BenchModel(nn.Module):
    def __init__(self, seq, adapters):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Layer(adapters) for _ in range(LAYERS))
        self.norm = RMSNorm(HIDDEN)
        self.head = nn.Linear(HIDDEN, VOCAB, bias=False)
        inv_freq = 10000.0 ** (-torch.arange(0, ROPE_DIM, 2).float() / ROPE_DIM)
        angles = torch.arange(seq).float()[:, None] * inv_freq[None, :]
        self.register_buffer('cos', angles.cos())
        self.register_buffer('sin', angles.sin())

    def forward(self, ids, labels):
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin)
        logits = self.head(self.norm(x))  # [1, T, V], materialized
        return F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mode', choices=('full', 'lora'), default='full')
    ap.add_argument('--seq', type=int, default=512)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = BenchModel(args.seq, adapters=args.mode == 'lora')
    if args.mode == 'lora':
        for name, p in model.named_parameters():
            p.requires_grad_(name.endswith(('lora_a', 'lora_b')))
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=1e-4)
    ids = torch.randint(0, VOCAB, (1, args.seq))
    labels = torch.randint(0, VOCAB, (1, args.seq))

    def step():
        # A function, so the loss tensor (and the graph it still references) dies before the
        # next forward: kept alive across steps it costs ~200 MiB of peak RSS in lora mode.
        # The gradients are released after the forward, as a training loop usually does: the
        # forward's peak then includes the previous step's gradients (full: 238 MiB), and the
        # timing and peak RSS match mini_mistral4.py's.
        out = model(ids, labels)
        optimizer.zero_grad(set_to_none=True)
        out.backward()
        optimizer.step()
        return out.item()

    times, loss = [], float('nan')
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        loss = step()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)

    fwd = forward_flops_per_token(args.seq)
    factor = 3.0 if args.mode == 'full' else 2.0  # forward + backward, bench/README.md
    med = statistics.median(times)
    total = sum(p.numel() for p in model.parameters())
    print(f"torch mode={args.mode} T={args.seq} threads={torch.get_num_threads()} params={total / 1e6:.1f}M "
          f"trainable={sum(p.numel() for p in trained) / 1e6:.3f}M step median={med * 1e3:.0f} ms "
          f"(min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f}, n={len(times)}) "
          f"tokens/s={args.seq / med:.1f} model-fwd GFLOP/token={fwd / 1e9:.4f} "
          f"achieved={factor * fwd * args.seq / med / 1e9:.1f} GFLOP/s "
          f"maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB loss={loss:.4f}", flush=True)


if __name__ == '__main__':
    main()
