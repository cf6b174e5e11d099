"""Predicting a held-out snapshot from both neighbours: the forward push, the backward push, and their mixture.

Run from the repository root: ``python docs/benchmarks/eb_variants/two_sided.py [workers]`` (default 2; one
default fit per data set and held-out time, 1,000 steps, seed 0, one torch thread per worker; the 100-PC EB
subset is read from ``../shared/data/eb``). The benchmark pushes the previous snapshot forward to the
held-out time, as the published methods do. The exact-OT interpolation uses both neighbours, so the
fitted flow can too: the next snapshot pushed backward, and the mixture of both pushes (each half of the
weight, or ``1 − τ`` and ``τ`` by the held-out time's fraction ``τ`` of the gap). ``mix_half`` keeps a random
half of each push, so the mixture has as many points as the pushes it mixes: W1 between samples falls with
their size, and this row shows how much of the mixture's gain is that. Prints W1 and the ratio to the
exact-OT interpolation, per held-out time.
"""

import sys

import numpy as np
from _fold import fit_fold, run_folds


def fold(job):
    """Fit with one snapshot held out and score the pushes to it: ``(data, label, exact-OT W1, {push: W1})``."""
    from scam.core.metrics import wasserstein
    from scam.lot.baselines import ot_midpoint

    f = fit_fold(*job)
    pf, wf, target = f.pushed, f.weights, f.target
    pb, wb = f.model.simulate(f.x_next, f.t_next, f.t, n_steps=100, return_weights=True)
    wb = wb / wb.sum()
    tau = (f.t - f.t_prev) / (f.t_next - f.t_prev)
    both = np.vstack([pf, pb])
    rng = np.random.default_rng(0)
    hf, hb = rng.random(len(pf)) < 0.5, rng.random(len(pb)) < 0.5
    half_w = np.concatenate([wf[hf] / wf[hf].sum(), wb[hb] / wb[hb].sum()]) / 2
    pred_ot, w_ot = ot_midpoint(f.x_prev, f.x_next, f.t_prev, f.t_next, f.t)
    scores = {
        "forward": wasserstein(pf, target, x_weights=wf),
        "backward": wasserstein(pb, target, x_weights=wb),
        "mix": wasserstein(both, target, x_weights=np.concatenate([wf, wb]) / 2),
        "mix_tau": wasserstein(both, target, x_weights=np.concatenate([(1 - tau) * wf, tau * wb])),
        "mix_half": wasserstein(np.vstack([pf[hf], pb[hb]]), target, x_weights=half_w),
    }
    return job[0], f.label, wasserstein(pred_ot, target, x_weights=w_ot), scores


if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    results = run_folds(fold, workers)
    cols = ["forward", "backward", "mix", "mix_tau", "mix_half"]
    print("| data | held out | exact OT W1 | " + " | ".join(f"{c} W1 (ratio)" for c in cols) + " |")
    print("|---" * (3 + len(cols)) + "|")
    ratios = {c: {} for c in cols}
    for name, label, ot, s in results:
        cells = " | ".join(f"{s[c]:.3f} ({s[c] / ot:.3f})" for c in cols)
        print(f"| {name} | {label} | {ot:.3f} | {cells} |")
        for c in cols:
            ratios[c].setdefault(name, []).append(s[c] / ot)
    print("\nMean ratio per data set (worst held-out time):")
    for name in dict.fromkeys(r[0] for r in results):
        print(name, "  ".join(f"{c} {np.mean(ratios[c][name]):.3f} ({max(ratios[c][name]):.3f})" for c in cols))
