"""The learned velocity against the closed form on a Gaussian path, at peak learning rates 5e-3 and 1e-2.

The fit of ``tests/test_fit.py`` (``scam.datasets.gaussian_path``, 2 dimensions, times 0-3, 1,000 cells each; exact-OT
pairs, 1,500 steps, a 64 x 64 network, 256 path samples per step), with σ = 0 and σ = 1, seeds 0-2. Printed: the
relative L2 error of the learned velocity against ``scam.datasets.gaussian_path_velocity`` on 2,000 samples of the
true marginal at t = 0.5, 1.5 and 2.5.

Run from the repository root (one torch thread, about 4 minutes; an argument sets the steps, e.g. 500, the
default fit's)::

    python docs/benchmarks/network/lr_gaussian.py > docs/benchmarks/network/lr_gaussian.txt
    python docs/benchmarks/network/lr_gaussian.py 500 > docs/benchmarks/network/lr_gaussian_500.txt
"""

import warnings

import numpy as np

import scam
from scam.core.interpolants import OTInterpolant
from scam.datasets import gaussian_path, gaussian_path_velocity

TIMES = (0.0, 1.0, 2.0, 3.0)


def errors(lr: float, sigma: float, seed: int, n_iters: int = 1500) -> list[float]:
    """Relative velocity error at t = 0.5, 1.5, 2.5 of one fit."""
    adata = gaussian_path(n_cells=1000, times=TIMES, n_dims=2, std_start=1.0, std_end=0.5, random_state=0)
    model = scam.tl.fit(
        adata,
        "time",
        sigma=sigma,
        n_iters=n_iters,
        interpolant=OTInterpolant(batch_size=1000),
        hidden=(64, 64),
        batch_size=256,
        lr=lr,
        random_state=seed,
        progress_bar=False,
    )
    gt = adata.uns["ground_truth"]
    out = []
    for t in (0.5, 1.5, 2.5):
        frac = (t - TIMES[0]) / (TIMES[-1] - TIMES[0])
        mu = gt["mu_start"] + (gt["mu_end"] - gt["mu_start"]) * frac
        std = gt["std_start"] + (gt["std_end"] - gt["std_start"]) * frac
        x = mu + std * np.random.default_rng(1).normal(size=(2000, len(mu)))
        truth = gaussian_path_velocity(x, t, **gt, **({"sigma": model.diffusion} if sigma > 0 else {}))
        out.append(float(np.linalg.norm(model.velocity(x, t) - truth) / np.linalg.norm(truth)))
    return out


if __name__ == "__main__":
    import sys

    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    warnings.simplefilter("ignore")
    scam.settings.n_threads = 1
    print(f"{steps} steps")
    print("| σ | peak lr | t = 0.5 | t = 1.5 | t = 2.5 | (mean ± std over seeds 0-2) |")
    print("|---|---|---|---|---|---|")
    for sigma in (0.0, 1.0):
        for lr in (5e-3, 1e-2):
            e = np.array([errors(lr, sigma, seed, steps) for seed in range(3)])
            cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(e.mean(0), e.std(0), strict=True))
            print(f"| {sigma:g} | {lr:g} | {cells} | |", flush=True)
