"""Reference for test_optim: torch.optim.AdamW (or torch 2.x's AdamW step, mode adamw2) / SGD with HF's param groups, a LambdaLR with
transformers' cosine-with-warmup lambda, and torch.nn.utils.clip_grad_norm_.

usage: optim_torch.py MODE SIZES WDS STEPS W T LR MOMENTUM MAX_NORM DATA OUT
DATA: f32 initial params (concatenated), then each step's grads (concatenated).
OUT: f32 grad norms per step (when MAX_NORM > 0), final params, then per tensor the state
(exp_avg, exp_avg_sq for adamw; momentum_buffer for sgd with momentum).
Exits 77 when torch cannot be imported."""
import math
import sys

try:
    import numpy as np
    import torch
except Exception:
    sys.exit(77)

mode, sizes, wds, steps, W, T, lr, mom, max_norm, data, out = sys.argv[1:]
sizes = [int(x) for x in sizes.split(",")]
wds = [float(x) for x in wds.split(",")]
steps, W, T = int(steps), int(W), int(T)
lr, mom, max_norm = float(lr), float(mom), float(max_norm)
raw = np.fromfile(data, dtype="<f4")
off = 0
ps = []
for n in sizes:
    ps.append(torch.nn.Parameter(torch.from_numpy(raw[off:off + n].copy())))
    off += n
groups = [{"params": [p], "weight_decay": wd} for p, wd in zip(ps, wds)]


class AdamW2(torch.optim.Optimizer):
    """torch 2.x's _single_tensor_adamw (lerp_ for exp_avg), run with torch's own kernels."""

    def __init__(self, params, lr):
        super().__init__(params, dict(lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))

    @torch.no_grad()
    def step(self):
        for grp in self.param_groups:
            lr, (beta1, beta2), eps, wd = grp["lr"], grp["betas"], grp["eps"], grp["weight_decay"]
            for param in grp["params"]:
                st = self.state[param]
                if not st:
                    st["step"] = torch.tensor(0.0)
                    st["exp_avg"] = torch.zeros_like(param)
                    st["exp_avg_sq"] = torch.zeros_like(param)
                grad, exp_avg, exp_avg_sq = param.grad, st["exp_avg"], st["exp_avg_sq"]
                st["step"] += 1
                param.mul_(1 - lr * wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = st["step"].item()
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = math.sqrt(bias_correction2)
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)


if mode == "adamw":
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False)
elif mode == "adamw2":
    opt = AdamW2(groups, lr=lr)
else:
    opt = torch.optim.SGD(groups, lr=lr, momentum=mom, foreach=False)


def lam(s):  # transformers' _get_cosine_schedule_with_warmup_lr_lambda, num_cycles 0.5
    if s < W:
        return float(s) / float(max(1, W))
    progress = float(s - W) / float(max(1, T - W))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress)))


sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
norms = []
for _ in range(steps):
    for p in ps:
        p.grad = torch.from_numpy(raw[off:off + p.numel()].copy())
        off += p.numel()
    if max_norm > 0:
        norms.append(float(torch.nn.utils.clip_grad_norm_(ps, max_norm)))
    opt.step()
    sched.step()
res = [np.array(norms, dtype="<f4")] + [p.detach().numpy() for p in ps]
for p in ps:
    st = opt.state[p]
    if mode.startswith("adamw"):
        res += [st["exp_avg"].numpy(), st["exp_avg_sq"].numpy()]
    elif mom:
        res.append(st["momentum_buffer"].numpy())
np.concatenate([r.astype("<f4").ravel() for r in res]).tofile(out)
