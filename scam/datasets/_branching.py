"""A simulated branching time course with known birth, death, fates and masses (ground truth for growth)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from numbers import Integral, Real

import anndata as ad
import numpy as np
import pandas as pd

from ._synthetic import _as_counts, _as_times

__all__ = ["branching", "branching_rates"]

#: Terminal branches: ``"A"`` (upper, proliferating) and ``"B"`` (lower, dying).
BRANCHES = ("A", "B")

# --- the model (latent state z = (u, v): u = progression, v = branch axis) -------------------
_SPEED = 1.0  # du/dt
_SPLIT_U, _SPLIT_WIDTH = 1.5, 1.0 / 3.0  # the branch programme switches on around u = 1.5
_KAPPA, _WELL = 2.5, 1.5  # pitchfork dv/dt = κ (0.25 + 0.75 h(u)) v (1 - v²/b²): wells at v = ±b
_NOISE_U, _NOISE_V = 0.15, 0.1  # Brownian noise per sqrt(day)
_INIT_STD = 0.3
# birth and death rates per day
_BIRTH_ROOT, _BIRTH_A, _BIRTH_B = 0.6, 1.0, 0.3
_DEATH_ROOT, _DEATH_A, _DEATH_B = 0.25, 0.2, 0.9
_DT = 0.01


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def branching_rates(latent: np.ndarray, *, branch_b_death: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """True birth and death rates (per day) at latent states of :func:`branching`.

    With ``h = logistic((u - 1.5) / (1/3))`` (the branch programme, off at the root) and
    ``a = logistic(2.5 v)`` (1 on branch A, 0 on branch B)::

        birth = (1 - h) 0.6  + h (a 1.0 + (1 - a) 0.3)
        death = (1 - h) 0.25 + h (a 0.2 + (1 - a) 0.9)

    so the root grows at 0.35 per day, branch A at 0.8 and branch B shrinks at 0.6 per day.

    Parameters
    ----------
    latent
        States ``(n, 2)``: columns ``u`` (progression) and ``v`` (branch axis), as in
        ``adata.obsm["X_latent"]``.
    branch_b_death
        Factor on branch B's death rate (0.9 per day at 1, the default; 0.3 makes branch B hold steady).

    Returns
    -------
    birth, death
        Arrays of shape ``(n,)``; the growth rate is ``birth - death``.
    """
    z = np.asarray(latent, dtype=np.float64)
    branch_b_death = _check_death_factor(branch_b_death)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"`latent` must have shape (n, 2), got {z.shape}.")
    h = _sigmoid((z[:, 0] - _SPLIT_U) / _SPLIT_WIDTH)
    a = _sigmoid(2.5 * z[:, 1])
    birth = (1 - h) * _BIRTH_ROOT + h * (a * _BIRTH_A + (1 - a) * _BIRTH_B)
    death = (1 - h) * _DEATH_ROOT + h * (a * _DEATH_A + (1 - a) * _DEATH_B * branch_b_death)
    return birth, death


def _check_death_factor(value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"`branch_b_death` must be a finite number >= 0, got {value!r}.")
    return float(value)


def _g_max(branch_b_death: float) -> float:
    """The largest growth rate anywhere (birth and death mix linearly, so a corner's)."""
    return max(_BIRTH_ROOT - _DEATH_ROOT, _BIRTH_A - _DEATH_A, _BIRTH_B - _DEATH_B * branch_b_death)


def _simulate(
    z: np.ndarray,
    logw: np.ndarray,
    t_from: float,
    t_to: float,
    rng: np.random.Generator,
    stops=(),
    branch_b_death: float = 1.0,
):
    """Euler-Maruyama of the latent SDE with log-weights ``d log w = (birth - death) dt`` (in place).

    Returns the states and log-weights at each time in ``stops`` (a sorted subset of ``[t_from, t_to]``).
    """
    n_steps = max(1, int(np.ceil((t_to - t_from) / _DT - 1e-9)))
    dt = (t_to - t_from) / n_steps
    sq = np.sqrt(dt)
    out, stops = [], list(stops)
    t = t_from
    while stops and stops[0] <= t + 1e-9:
        out.append((z.copy(), logw.copy()))
        stops.pop(0)
    for i in range(n_steps):
        u, v = z[:, 0], z[:, 1]
        b, d = branching_rates(z, branch_b_death=branch_b_death)
        h = _sigmoid((u - _SPLIT_U) / _SPLIT_WIDTH)
        logw += (b - d) * dt
        dv = _KAPPA * (0.25 + 0.75 * h) * v * (1.0 - v**2 / _WELL**2)
        z[:, 0] = u + _SPEED * dt + _NOISE_U * sq * rng.standard_normal(len(z))
        z[:, 1] = v + dv * dt + _NOISE_V * sq * rng.standard_normal(len(z))
        t = t_from + (i + 1) * dt
        while stops and stops[0] <= t + 1e-9:
            out.append((z.copy(), logw.copy()))
            stops.pop(0)
    return out


def _read_genes(organism: str, kind: str) -> list[str]:
    path = resources.files("scam.pp") / "data" / f"{organism}_{kind}.txt"
    return [g.strip() for g in path.read_text().splitlines() if g.strip()]


def branching(
    *,
    n_cells: int | Sequence[int] = 400,
    times: Sequence[float] = (0.0, 1.0, 2.0, 3.0, 4.0),
    n_genes: int = 300,
    n_proliferation_genes: int = 20,
    n_apoptosis_genes: int = 20,
    organism: str = "human",
    n_fate_samples: int = 16,
    branch_b_death: float = 1.0,
    random_state: int | np.random.Generator | None = 0,
) -> ad.AnnData:
    """A simulated branching time course with known birth, death, fates and population masses.

    Cells live in a 2-D latent state ``z = (u, v)``: ``u`` is progression (``du = dt + 0.15 dW``),
    ``v`` the branch axis, a pitchfork that switches on around ``u = 1.5``
    (``dv = 2.5 (0.25 + 0.75 h(u)) v (1 - v²/1.5²) dt + 0.1 dW``, ``h`` as in
    :func:`branching_rates`), so a single root population splits into
    branch ``"A"`` (``v > 0``) and branch ``"B"`` (``v < 0``). Each cell divides at rate
    ``birth(z)`` and dies at rate ``death(z)`` (per day; :func:`branching_rates`): the root grows
    slowly, branch A proliferates (growth +0.8 per day), branch B dies (−0.6 per day).

    The population is simulated as weighted lineages (``d log w = (birth − death) dt``, which has
    the same expected population density as the birth–death process). At each time a snapshot of
    ``n_cells`` cells is drawn from the population in proportion to the lineage weights
    (exact rejection sampling), like sequencing a fixed number of cells from a growing or
    shrinking population; the true relative mass per time is the mean lineage weight.

    Gene expression: ``n_genes`` genes with counts from a negative binomial (dispersion 5)
    around a random nonlinear function of ``z`` times a per-cell library size (log-normal,
    median 2,000). ``n_proliferation_genes`` genes carry names from the shipped proliferation
    list (``scam/pp/data/{organism}_proliferation.txt``) and their log-mean rises with the cell's
    true birth rate; ``n_apoptosis_genes`` genes named from the apoptosis list rise with the
    true death rate, so :func:`scam.pp.growth_prior` can be checked against the truth. The
    other genes are named ``"gene_0"``, ``"gene_1"``, …

    Parameters
    ----------
    n_cells
        Cells per snapshot: an int (every time) or one int per time.
    times
        Snapshot days, strictly increasing, starting at or after 0 (default 0, 1, 2, 3, 4).
    n_genes
        Total number of genes (>= ``n_proliferation_genes + n_apoptosis_genes + 10``).
    n_proliferation_genes, n_apoptosis_genes
        Genes named after (and behaving like) proliferation / apoptosis markers (0 allowed).
    organism
        ``"human"`` or ``"mouse"``: which shipped gene lists the marker genes are named from.
    n_fate_samples
        Future paths simulated from each sampled cell to estimate its fate probability.
    branch_b_death
        Factor on branch B's death rate (:func:`branching_rates`): 1 (default) gives −0.6 per day on
        branch B, 0.3 makes it hold steady (growth 0.03). Two calls with different factors simulate
        two conditions (e.g. a treatment that spares branch B) with known growth.
    random_state
        Seed or :class:`numpy.random.Generator`; the same seed gives the same data.

    Returns
    -------
    AnnData
        ``n_total x n_genes`` with

        ``X``
            Raw counts (``float32``, dense).
        ``obs["day"]``
            Snapshot time (``float64``).
        ``obs["branch"]``
            Current state, categorical ``"root"`` (``u < 1.5``), ``"A"`` or ``"B"`` (sign of ``v``).
        ``obs["fate"]``
            True terminal branch, categorical ``"A"``/``"B"``: the branch (sign of ``v``) at the last
            time of one descendant drawn in proportion to mass from the cell's simulated futures
            (what lineage tracing would report).
        ``obs["fate_probability_A"]``
            Probability that the cell's descendants end in branch A, by mass: over
            ``n_fate_samples`` futures from the cell, the growth-weighted fraction ending at ``v > 0``
            (at the last time the fate is known: 0 or 1).
        ``obs["birth"]``, ``obs["death"]``, ``obs["growth"]``
            True rates per day at the cell (``growth = birth - death``).
        ``obsm["X_latent"]``
            True latent state ``(u, v)``.
        ``var["proliferation"]``, ``var["apoptosis"]``
            Whether a gene is a simulated proliferation / apoptosis marker.
        ``uns["ground_truth"]``
            ``times``, ``masses`` (true relative population mass per time, 1 at the first),
            ``proliferation_genes``, ``apoptosis_genes`` (arrays of names), ``organism``,
            ``time_key`` (``"day"``), ``fate_key`` (``"fate"``), ``growth_key`` (``"growth"``) and
            ``bayes_fate_accuracy``: the accuracy of the best possible fate call (the more likely
            branch by ``fate_probability_A``) against ``obs["fate"]`` on cells before the last
            time — the ceiling of any fate predictor. All h5ad-serialisable.

    Raises
    ------
    ValueError
        For invalid times, counts, gene numbers or organism.

    Examples
    --------
    >>> import scam
    >>> adata = scam.datasets.branching(n_cells=200, random_state=1)
    >>> adata.obs["day"].nunique(), adata.obsm["X_latent"].shape[1]
    (5, 2)
    >>> adata.uns["ground_truth"]["masses"].round(2)  # doctest: +SKIP
    array([1.  , 1.42, 2.09, 2.83, 4.03])
    """
    # One simulation read top to bottom (latent SDE, sampling per day, counts, PCA, truth): each step
    # feeds the next, so the function stays whole rather than being cut into single-use pieces.
    t = _as_times(times)
    if t[0] < 0:
        raise ValueError(f"`times` must be >= 0 (days since the start of the simulation), got {t.tolist()}.")
    counts = _as_counts(n_cells, t.size)
    for name, val, low in (
        ("n_genes", n_genes, 1),
        ("n_proliferation_genes", n_proliferation_genes, 0),
        ("n_apoptosis_genes", n_apoptosis_genes, 0),
        ("n_fate_samples", n_fate_samples, 1),
    ):
        if isinstance(val, bool) or not isinstance(val, Integral) or val < low:
            raise ValueError(f"`{name}` must be an integer >= {low}, got {val!r}.")
    if organism not in ("human", "mouse"):
        raise ValueError(f"`organism` must be 'human' or 'mouse', got {organism!r}.")
    prolif_all = _read_genes(organism, "proliferation")
    apopt_all = _read_genes(organism, "apoptosis")
    both = set(prolif_all) & set(apopt_all)
    prolif_all = [g for g in prolif_all if g not in both]
    apopt_all = [g for g in apopt_all if g not in both]
    if n_proliferation_genes > len(prolif_all) or n_apoptosis_genes > len(apopt_all):
        raise ValueError(
            f"At most {len(prolif_all)} proliferation and {len(apopt_all)} apoptosis genes are available for "
            f"organism={organism!r}; lower `n_proliferation_genes` / `n_apoptosis_genes`."
        )
    if n_genes < n_proliferation_genes + n_apoptosis_genes + 10:
        raise ValueError(
            f"`n_genes={n_genes}` must be at least n_proliferation_genes + n_apoptosis_genes + 10 "
            f"({n_proliferation_genes + n_apoptosis_genes + 10})."
        )
    branch_b_death = _check_death_factor(branch_b_death)
    g_max = _g_max(branch_b_death)
    rng = np.random.default_rng(random_state)

    # --- population: weighted lineages, exact rejection sampling of each snapshot
    t_end = float(t[-1])
    batch = max(4000, int(4 * counts.max()))
    picked: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in t]  # per time: (state, logw at t_k)
    n_picked = np.zeros(t.size, dtype=np.int64)
    sum_w = np.zeros(t.size)
    n_lineages = 0
    while n_lineages < 20000 or np.any(n_picked < counts):
        z = np.column_stack([_INIT_STD * rng.standard_normal(batch), _INIT_STD * rng.standard_normal(batch)])
        logw = np.zeros(batch)
        snaps = _simulate(z, logw, 0.0, t_end, rng, stops=list(t), branch_b_death=branch_b_death)
        n_lineages += batch
        for k, (zk, lwk) in enumerate(snaps):
            sum_w[k] += np.exp(lwk).sum()
            # acceptance exp(log w - g_max t) <= 1 gives draws in proportion to w
            acc = np.flatnonzero(rng.random(batch) < np.exp(lwk - g_max * t[k]))
            need = int(counts[k] - n_picked[k])
            if need > 0 and len(acc):
                acc = acc[:need]
                picked[k].append(zk[acc])
                n_picked[k] += len(acc)
    masses = sum_w / n_lineages
    masses = masses / masses[0]

    Z = np.concatenate([np.concatenate(p, axis=0) for p in picked], axis=0)
    codes = np.repeat(np.arange(t.size), counts)
    day = t[codes]

    # --- fates: the cell's own future path, and the mass-weighted fraction over futures
    fate_up = np.zeros(len(Z), dtype=bool)
    prob_a = np.zeros(len(Z))
    for k in range(t.size):
        idx = np.flatnonzero(codes == k)
        if k == t.size - 1:
            fate_up[idx] = Z[idx, 1] > 0
            prob_a[idx] = fate_up[idx].astype(float)
            continue
        rep = np.repeat(idx, n_fate_samples)
        zf = Z[rep].copy()
        lw = np.zeros(len(rep))
        zf, lw = _simulate(zf, lw, float(t[k]), t_end, rng, stops=[t_end], branch_b_death=branch_b_death)[0]
        up = zf[:, 1] > 0
        w = np.exp(lw - lw.max())
        num = np.bincount(np.searchsorted(idx, rep), weights=w * up, minlength=len(idx))
        den = np.bincount(np.searchsorted(idx, rep), weights=w, minlength=len(idx))
        prob_a[idx] = num / den
        # one descendant drawn in proportion to mass: what lineage tracing at the last time reports
        w_cell = w.reshape(len(idx), n_fate_samples)
        cum = np.cumsum(w_cell, axis=1)
        draw = (cum < rng.random(len(idx))[:, None] * cum[:, -1:]).sum(1)
        fate_up[idx] = up.reshape(len(idx), n_fate_samples)[np.arange(len(idx)), draw]
    early = codes < t.size - 1
    bayes = float(np.mean((prob_a[early] > 0.5) == fate_up[early])) if early.any() else float("nan")

    birth, death = branching_rates(Z, branch_b_death=branch_b_death)
    branch = np.where(Z[:, 0] < _SPLIT_U, "root", np.where(Z[:, 1] > 0, "A", "B"))

    # --- genes
    n_p, n_a = int(n_proliferation_genes), int(n_apoptosis_genes)
    prolif = [prolif_all[i] for i in np.sort(rng.choice(len(prolif_all), n_p, replace=False))]
    apopt = [apopt_all[i] for i in np.sort(rng.choice(len(apopt_all), n_a, replace=False))]
    n_other = int(n_genes) - n_p - n_a
    zs = (Z - np.array([t_end / 2, 0.0])) / np.array([max(t_end / 2, 0.5), _WELL])
    n_feat = 16
    W1 = rng.normal(0.0, 1.5, size=(2, n_feat))
    b1 = rng.uniform(-1.0, 1.0, size=n_feat)
    feat = np.tanh(zs @ W1 + b1)  # random nonlinear features of the state
    W2 = rng.normal(0.0, 1.0, size=(n_feat, int(n_genes))) / np.sqrt(n_feat)
    log_mu = rng.normal(-6.0, 1.0, size=int(n_genes)) + 1.5 * feat @ W2
    b_lo, b_hi = min(_BIRTH_ROOT, _BIRTH_A, _BIRTH_B), max(_BIRTH_ROOT, _BIRTH_A, _BIRTH_B)
    death_b = _DEATH_B * branch_b_death
    d_lo, d_hi = min(_DEATH_ROOT, _DEATH_A, death_b), max(_DEATH_ROOT, _DEATH_A, death_b)
    b_norm, d_norm = (birth - b_lo) / (b_hi - b_lo), (death - d_lo) / (d_hi - d_lo)
    # marker genes: weaker random part, strong dependence on the true rate
    sl_p = slice(n_other, n_other + n_p)
    sl_a = slice(n_other + n_p, n_other + n_p + n_a)
    log_mu[:, sl_p] = (
        rng.normal(-6.0, 0.5, size=n_p) + 0.3 * feat @ W2[:, sl_p] + np.outer(b_norm, rng.uniform(1.5, 2.5, size=n_p))
    )
    log_mu[:, sl_a] = (
        rng.normal(-6.0, 0.5, size=n_a) + 0.3 * feat @ W2[:, sl_a] + np.outer(d_norm, rng.uniform(1.5, 2.5, size=n_a))
    )
    library = np.exp(rng.normal(np.log(2000.0), 0.3, size=len(Z)))
    mu = library[:, None] * np.exp(log_mu)
    disp = 5.0
    X = rng.poisson(rng.gamma(disp, mu / disp)).astype(np.float32)

    names = [f"gene_{i}" for i in range(n_other)] + prolif + apopt
    var = pd.DataFrame(
        {
            "proliferation": np.r_[np.zeros(n_other, bool), np.ones(n_p, bool), np.zeros(n_a, bool)],
            "apoptosis": np.r_[np.zeros(n_other + n_p, bool), np.ones(n_a, bool)],
        },
        index=pd.Index(names),
    )
    obs = pd.DataFrame(
        {
            "day": day,
            "branch": pd.Categorical(branch, categories=["root", *BRANCHES]),
            "fate": pd.Categorical(np.where(fate_up, "A", "B"), categories=list(BRANCHES)),
            "fate_probability_A": prob_a,
            "birth": birth,
            "death": death,
            "growth": birth - death,
        },
        index=pd.Index([f"cell_{i}" for i in range(len(Z))]),
    )
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.obsm["X_latent"] = Z
    adata.uns["ground_truth"] = {
        "times": t.copy(),
        "masses": masses,
        "proliferation_genes": np.asarray(prolif, dtype=object),
        "apoptosis_genes": np.asarray(apopt, dtype=object),
        "organism": organism,
        "time_key": "day",
        "fate_key": "fate",
        "growth_key": "growth",
        "bayes_fate_accuracy": bayes,
    }
    return adata
