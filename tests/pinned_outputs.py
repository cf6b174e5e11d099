"""Outputs of small fits and a small LOT run, pinned so that refactors keep behaviour unchanged.

``python tests/pinned_outputs.py write`` stores them in ``tests/data/pinned.npz``;
``python tests/pinned_outputs.py check`` recomputes them and reports whether every array is
bit-identical (``tests/test_pinned.py`` compares them with a tight tolerance on any machine).
Each configuration is explicit (no defaults), so a change of a default does not move the pin.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import scam

PINNED = Path(__file__).parent / "data" / "pinned.npz"
SMALL = {
    "hidden": (32, 32),
    "batch_size": 128,
    "n_iters": 60,
    "lr": 1e-3,
    "progress_bar": False,
    "device": "cpu",
    "validation": True,
}
CONFIGS = {
    # tied growth on the spline path, with masses and validation
    "tied": {"sigma": 0.0, "lam": 0.5, "interpolant": "spline", "growth": "tied", "masses": [1.0, 1.5, 2.0]},
    # the SDE (validation simulates it) on the Schrödinger-bridge path
    "sde": {"sigma": 0.3, "lam": 0.0, "interpolant": "sb", "growth": "none", "masses": None},
    # the free growth head on the growth path
    "free": {"sigma": 0.0, "lam": 0.0, "interpolant": "growth", "growth": "free", "masses": [1.0, 1.5, 2.0]},
    # unbalanced pairs and the paper's estimator-free defaults elsewhere
    "unbalanced": {"sigma": 0.0, "lam": 0.2, "interpolant": "unbalanced", "growth": "tied", "masses": "counts"},
}


def _data():
    return scam.datasets.gaussian_path(n_cells=[150, 180, 210], times=(0.0, 1.0, 2.5), n_dims=3, random_state=0)


def compute() -> dict[str, np.ndarray]:
    """Every pinned array, by name."""
    torch.set_num_threads(1)
    scam.settings.n_threads = 1  # scam runs its torch work with this count
    out: dict[str, np.ndarray] = {}
    adata = _data()
    X = adata.obsm["X_pca"]
    for name, cfg in CONFIGS.items():
        a = adata.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = scam.tl.fit(a, "time", random_state=3, **SMALL, **cfg)
        out[f"{name}/velocity"] = a.obsm["scam_velocity"]
        for col in ("potential", "growth", "weight"):
            out[f"{name}/{col}"] = a.obs[f"scam_{col}"].to_numpy()
        out[f"{name}/learned_masses"] = np.asarray(a.uns["scam"]["learned_masses"])
        out[f"{name}/val_w1"] = np.asarray(a.uns["scam"]["history"]["val_w1"])
        out[f"{name}/loss"] = np.asarray(a.uns["scam"]["history"]["loss"])
        x, w = model.simulate(X[:40], 0.0, 2.5, n_steps=20, method="rk4", return_weights=True, stochastic=False)
        out[f"{name}/simulate_rk4"], out[f"{name}/simulate_rk4_w"] = x, w
        xb = model.simulate(X[-40:], 2.5, 0.0, n_steps=20, stochastic=False)
        out[f"{name}/simulate_back"] = xb
        if model.sigma > 0:
            out[f"{name}/simulate_sde"] = model.simulate(X[:40], 0.0, 1.0, n_steps=20, random_state=5)
        else:
            out[f"{name}/loglik"] = model.log_likelihood(
                X[-30:], 2.5, base=X[adata.obs["time"].to_numpy() == 0], n_steps=10
            )
        if name in ("sde", "free"):  # read-outs: fates (SDE samples / growth weights), transitions, paths
            a.obs["side"] = np.where(X[:, 0] > np.median(X[:, 0]), "right", "left")
            scam.tl.fate(a, model, source=0.0, target=2.5, groupby="side", n_samples=3, n_steps=10)
            out[f"{name}/fate"] = a.obsm["scam_fate"]
            tm = scam.tl.transition_matrix(a, model, source=0.0, target=2.5, groupby="side", n_samples=3, n_steps=10)
            out[f"{name}/transitions"] = tm.to_numpy()
            scam.tl.trajectories(a, model, n_cells=20, n_steps=10)
            out[f"{name}/trajectories"] = np.asarray(a.uns["scam"]["trajectories"]["paths"])
    a = adata.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = scam.tl.leave_one_timepoint_out(
            a,
            "time",
            methods=["scam", "scam_uam", "ot_midpoint", "entropic_ot", "unbalanced_ot", "previous"],
            n_seeds=2,
            metrics=["w1", "mmd"],
            masses=[1.0, 1.5, 2.0],
            n_steps=100,
            fit_kwargs={k: v for k, v in SMALL.items() if k != "progress_bar"} | {"interpolant": "spline"},
            progress_bar=False,
        )
    out["lot/value"] = df["value"].to_numpy()
    return out


def main(mode: str) -> int:
    """``write`` or ``check``."""
    arrays = compute()
    if mode == "write":
        PINNED.parent.mkdir(exist_ok=True)
        np.savez_compressed(PINNED, **arrays)
        print(f"wrote {len(arrays)} arrays to {PINNED}")
        return 0
    ref = np.load(PINNED)
    bad = []
    for k, v in arrays.items():
        r = ref[k]
        same = r.shape == v.shape and np.array_equal(r, v, equal_nan=True)
        if not same:
            diff = np.nanmax(np.abs(r.astype(float) - v.astype(float))) if r.shape == v.shape else "shape"
            bad.append(f"{k}: max |diff| {diff}")
    missing = sorted(set(ref.files) - set(arrays))
    print(f"{len(arrays) - len(bad)}/{len(arrays)} arrays bit-identical; missing {missing}")
    for line in bad:
        print("  ", line)
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "check"))
