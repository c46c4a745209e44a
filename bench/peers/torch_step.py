"""PyTorch peer of the sail training step: two star heads (LayerNorm -> f1, f2 -> ReLU6(f1) * f2 -> g),
row-wise L2 normalisation, SigLIP loss over the N x N logits, autograd, and a Lion update.

Prints one JSON line: median seconds per step (after warm-up), the steps, threads, BLAS in use and the
environment. Usage: python3 torch_step.py --n 4096 --dim 384 --width 8 --out 512 --steps 7 --threads 2
"""
import argparse
import json
import statistics
import time

import torch

from blasinfo import blas_kind, env_report, loaded_blas


class StarHead(torch.nn.Module):
    def __init__(self, d, h, o):
        super().__init__()
        self.ln = torch.nn.LayerNorm(d)
        self.f1 = torch.nn.Linear(d, h)
        self.f2 = torch.nn.Linear(d, h)
        self.g = torch.nn.Linear(h, o)

    def forward(self, x):
        y = self.ln(x)
        a = torch.clamp(self.f1(y), 0, 6) * torch.clamp(self.f2(y), -1e3, 1e3)
        return torch.nn.functional.normalize(self.g(a), dim=-1)


def lion_step(params, moments, lr, wd, b1=0.9, b2=0.99):
    with torch.no_grad():
        for p, m in zip(params, moments):
            g = p.grad
            c = m.mul(b1).add_(g, alpha=1 - b1)
            p.mul_(1 - lr * wd).add_(torch.sign(c), alpha=-lr)
            m.mul_(b2).add_(g, alpha=1 - b2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--out", type=int, default=512)
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    h = a.width * a.dim
    vision = StarHead(a.dim, h, a.out)
    text = StarHead(a.dim, h, a.out)
    logit_scale = torch.nn.Parameter(torch.tensor(float(torch.log(torch.tensor(20.0)))))
    logit_bias = torch.nn.Parameter(torch.tensor(-10.0))
    params = list(vision.parameters()) + list(text.parameters()) + [logit_scale, logit_bias]
    moments = [torch.zeros_like(p) for p in params]
    image = torch.rand(a.n, a.dim) * 2 - 1
    caption = torch.rand(a.n, a.dim) * 2 - 1
    labels = 2 * torch.eye(a.n) - 1
    times = []
    for _ in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        for p in params:
            p.grad = None
        v = vision(image)
        t = text(caption)
        logits = v @ t.T * logit_scale.exp() + logit_bias
        loss = -torch.nn.functional.logsigmoid(labels * logits).sum() / (a.n * a.n)
        loss.backward()
        lion_step(params, moments, 1e-5, 1e-4)
        times.append(time.perf_counter() - t0)
    steady = times[a.warmup:]
    libs = loaded_blas()
    print(json.dumps({
        "peer": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "n": a.n,
        "median_s_per_step": statistics.median(steady), "steps_s": [round(x, 4) for x in steady],
        "blas": blas_kind(libs), "blas_libraries": libs, "env": env_report(), "loss": float(loss),
    }))


if __name__ == "__main__":
    main()
