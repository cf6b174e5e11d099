"""One training step of the default EB fit, taken apart: the matrix products against everything else.

Run from the repository root, nothing else busy: ``python docs/benchmarks/speed/step.py`` (output in ``step.txt``).
The action (3 x 256 SiLU MLP on 5 dimensions and the time features) and the 64 x 64 growth head, the ``"path"``
estimator's loss, one torch thread; per batch size: the forward pass, ``∇s`` (built for the double backward), the
backward pass and the Adam step, and the time of one 256 x 256 matrix product of the batch alone.
"""

import time

import torch

from scam.core.network import ActionNet, GrowthNet

torch.set_num_threads(1)


def timed(fn, repeats: int) -> float:
    """Mean seconds of ``fn()`` over ``repeats`` calls after 20 warm-up calls."""
    for _ in range(20):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def step_parts(batch: int, repeats: int = 100) -> dict[str, float]:
    """Milliseconds of each part of one step with ``batch`` path samples."""
    torch.manual_seed(0)
    net, growth = ActionNet(5), GrowthNet(5, (64, 64))
    opt = torch.optim.Adam([*net.parameters(), *growth.parameters()], lr=5e-3)
    x, t, dx = torch.randn(batch, 5), torch.rand(batch), torch.randn(batch, 5)
    w, dlogw = torch.rand(batch), torch.randn(batch)
    parts = dict.fromkeys(("forward", "grad", "backward", "adam"), 0.0)

    def step():
        a = time.perf_counter()
        xt = x.detach().requires_grad_(True)
        s = net(xt, t)
        b = time.perf_counter()
        (gx,) = torch.autograd.grad(s.sum(), xt, create_graph=True)
        loss = (w * (0.5 * (gx**2).sum(-1) - (gx * dx).sum(-1))).mean()
        loss = loss + (w * (growth(xt.detach(), t) - dlogw) ** 2).mean()
        c = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        d = time.perf_counter()
        opt.step()
        e = time.perf_counter()
        for key, v in zip(parts, (b - a, c - b, d - c, e - d), strict=True):
            parts[key] += v

    for _ in range(20):
        step()
    parts.update(dict.fromkeys(parts, 0.0))
    for _ in range(repeats):
        step()
    out = {k: 1e3 * v / repeats for k, v in parts.items()}
    h, weight = torch.randn(batch, 256), torch.randn(256, 256)
    out["one 256x256 product"] = 1e3 * timed(lambda: h @ weight, 200)
    return out


if __name__ == "__main__":
    print(f"torch {torch.__version__}, one thread")
    for batch in (512, 384, 256):
        p = step_parts(batch)
        total = sum(v for k, v in p.items() if k != "one 256x256 product")
        mm = 12 * p["one 256x256 product"]  # 2 in the forward pass, 2 in ∇s, 8 in the double backward
        print(
            f"batch {batch}: step {total:.2f} ms (forward {p['forward']:.2f}, ∇s {p['grad']:.2f}, backward "
            f"{p['backward']:.2f}, Adam {p['adam']:.2f}); the 12 products of 256 x 256 weights "
            f"{mm:.2f} ms ({p['one 256x256 product']:.3f} each), everything else {total - mm:.2f} ms"
        )
