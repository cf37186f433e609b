"""Reference LoRA branch by PyTorch autograd in float64 (formats.md §1.6, §2.2).

usage: lora_torch.py FILE M N K r E e s
FILE holds little-endian f32: x [M,K], W_e [N,K], A [r·E, K], B [N, r·E], dy [M,N].
Expert e of a fused parameter uses A_e = A.reshape(E, r, K)[e] and B_e = B.reshape(N, r, E)[:, :, e].
Computes y = x·W_eᵀ + s·(x·A_eᵀ)·B_eᵀ and backpropagates dy; prints y, dx, dA, dB (whole
tensors), one value per line. Prints SKIP when torch is missing."""
import sys

try:
    import torch
except ImportError:
    print("SKIP")
    sys.exit(0)

path = sys.argv[1]
M, N, K, r, E, e = (int(v) for v in sys.argv[2:8])
s = float(sys.argv[8])
raw = torch.tensor(
    list(__import__("array").array("f", open(path, "rb").read())), dtype=torch.float64)
sizes = [M * K, N * K, r * E * K, N * r * E, M * N]
parts, o = [], 0
for n in sizes:
    parts.append(raw[o:o + n])
    o += n
x = parts[0].reshape(M, K).clone().requires_grad_(True)
W = parts[1].reshape(N, K)
A = parts[2].reshape(r * E, K).clone().requires_grad_(True)
B = parts[3].reshape(N, r * E).clone().requires_grad_(True)
dy = parts[4].reshape(M, N)
A_e = A.reshape(E, r, K)[e]
B_e = B.reshape(N, r, E)[:, :, e]
y = x @ W.T + s * ((x @ A_e.T) @ B_e.T)
y.backward(dy)
for t in (y.detach(), x.grad, A.grad, B.grad):
    for v in t.reshape(-1).tolist():
        print(repr(v))
