"""Synthetic snapshot data with a known, closed-form dynamics: a Gaussian path."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import anndata as ad
import numpy as np
import pandas as pd

__all__ = ["gaussian_path", "gaussian_path_velocity"]


def _as_times(times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Validate snapshot times: 1-D, finite, at least 2, strictly increasing."""
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"`times` must be a 1-D sequence with at least 2 entries, got shape {t.shape}.")
    if not np.all(np.isfinite(t)):
        raise ValueError("`times` must be finite.")
    if not np.all(np.diff(t) > 0):
        raise ValueError(f"`times` must be strictly increasing, got {t.tolist()}.")
    return t


def _as_std(value: float, name: str) -> float:
    """Validate a standard deviation: a finite real number > 0."""
    try:
        s = float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.") from None
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    return s


def _as_mean(value: float | Sequence[float] | np.ndarray | None, n_dims: int, name: str) -> np.ndarray:
    """Validate a mean vector: a scalar (broadcast) or a vector of length ``n_dims``."""
    mu = np.asarray(value, dtype=np.float64)
    if mu.ndim == 0:
        mu = np.full(n_dims, float(mu))
    if mu.shape != (n_dims,):
        raise ValueError(f"`{name}` must have shape ({n_dims},), got {mu.shape}.")
    if not np.all(np.isfinite(mu)):
        raise ValueError(f"`{name}` must be finite.")
    return mu


def _as_masses(masses: Sequence[float] | np.ndarray, n_times: int) -> np.ndarray:
    """Validate relative masses: one finite positive value per time."""
    m = np.asarray(masses, dtype=np.float64)
    if m.shape != (n_times,):
        raise ValueError(f"`masses` must have one entry per time ({n_times}), got shape {m.shape}.")
    if not np.all(np.isfinite(m)) or not np.all(m > 0):
        raise ValueError(f"`masses` must be finite and > 0, got {m.tolist()}.")
    return m


def _as_counts(n_cells: int | Sequence[int], n_times: int) -> np.ndarray:
    """Validate cell counts: an int >= 1 (same for every time) or one int >= 1 per time."""
    if isinstance(n_cells, bool | np.bool_):
        raise ValueError(f"`n_cells` must be an integer >= 1 or a sequence of them, got {n_cells!r}.")
    if isinstance(n_cells, Integral):
        counts = np.full(n_times, int(n_cells), dtype=np.int64)
    else:
        raw = np.asarray(n_cells)
        if raw.ndim != 1 or raw.shape[0] != n_times:
            raise ValueError(f"`n_cells` must be an int or have one entry per time ({n_times}), got {n_cells!r}.")
        if raw.dtype.kind not in "iu":
            raise ValueError(f"`n_cells` entries must be integers, got {n_cells!r}.")
        counts = raw.astype(np.int64)
    if np.any(counts < 1):
        raise ValueError(f"`n_cells` must be >= 1 for every time, got {counts.tolist()}.")
    return counts


def _moments(t: np.ndarray, times: np.ndarray, mu_start, mu_end, std_start, std_end):
    """Mean, std and their time derivatives of the linear Gaussian path at times ``t``.

    Returns ``(mu_t, s_t, mu_dot, s_dot)`` with ``mu_t`` of shape ``t.shape + (d,)`` and ``s_t``
    of shape ``t.shape``; ``mu_dot`` (shape ``(d,)``) and ``s_dot`` (float) are constant.
    """
    span = times[-1] - times[0]
    alpha = (np.asarray(t, dtype=np.float64) - times[0]) / span
    mu_dot = (mu_end - mu_start) / span
    s_dot = (std_end - std_start) / span
    mu_t = mu_start + alpha[..., None] * (mu_end - mu_start)
    s_t = std_start + alpha * (std_end - std_start)
    return mu_t, s_t, mu_dot, s_dot


def gaussian_path(
    *,
    n_cells: int | Sequence[int] = 500,
    times: Sequence[float] = (0.0, 1.0, 2.0),
    n_dims: int = 2,
    mu_start: float | Sequence[float] | np.ndarray | None = None,
    mu_end: float | Sequence[float] | np.ndarray | None = None,
    std_start: float = 1.0,
    std_end: float = 0.5,
    masses: Sequence[float] | np.ndarray | None = None,
    random_state: int | np.random.Generator | None = 0,
) -> ad.AnnData:
    """Snapshots of an isotropic Gaussian whose mean and standard deviation move linearly in time.

    At each time ``t`` in ``times``, cells are drawn i.i.d. from ``N(mu_t, s_t**2 I)`` with

    ``mu_t = mu_start + a(t) (mu_end - mu_start)``, ``s_t = std_start + a(t) (std_end - std_start)``,
    ``a(t) = (t - times[0]) / (times[-1] - times[0])``,

    so the path runs from ``N(mu_start, std_start**2 I)`` at ``times[0]`` to
    ``N(mu_end, std_end**2 I)`` at ``times[-1]``. Its dynamics are known in closed form (see
    :func:`gaussian_path_velocity`), which makes it a test bed for velocity estimates.

    Parameters
    ----------
    n_cells
        Cells per time: an int (the same for every time) or one int per time (for unequal
        counts). Each must be >= 1.
    times
        Snapshot times, at least 2, strictly increasing.
    n_dims
        Dimension of the embedding.
    mu_start, mu_end
        Means at ``times[0]`` and ``times[-1]``: a vector of length ``n_dims`` or a scalar
        (broadcast). Defaults: ``mu_start = 0``, ``mu_end = (2, 0, ..., 0)`` (a shift of 2 along
        the first axis).
    std_start, std_end
        Standard deviations (per axis) at ``times[0]`` and ``times[-1]``; must be > 0.
    masses
        Optional true relative population masses, one (> 0) per time. They do not affect the
        sampled cells; they are only stored as ground truth in ``uns["ground_truth"]["masses"]``.
    random_state
        Seed or :class:`numpy.random.Generator`; the same seed gives the same cells.

    Returns
    -------
    AnnData
        ``n_total x n_dims`` with ``X`` and ``obsm["X_pca"]`` (both ``float64``, same values),
        ``obs["time"]`` (``float64``), ``var_names`` ``"dim1"`` ... and
        ``uns["ground_truth"]``, a dict with ``times`` (array), ``mu_start``, ``mu_end``
        (arrays), ``std_start``, ``std_end`` (floats) and, if given, ``masses`` (array). All
        entries are h5ad-serialisable, and the dict can be passed as keywords to
        :func:`gaussian_path_velocity`.

    Raises
    ------
    ValueError
        If ``times`` has fewer than 2 entries or is not strictly increasing, a standard
        deviation is not > 0, ``n_cells`` is not >= 1 (or has the wrong length), ``n_dims`` < 1,
        a mean has the wrong shape, or ``masses`` is not positive with one entry per time.

    Examples
    --------
    >>> import scam
    >>> adata = scam.datasets.gaussian_path(n_cells=[100, 200, 300], random_state=1)
    >>> adata.shape
    (600, 2)
    >>> gt = adata.uns["ground_truth"]
    >>> v = scam.datasets.gaussian_path_velocity(adata.obsm["X_pca"], adata.obs["time"].to_numpy(), **gt)
    >>> v.shape
    (600, 2)
    """
    if isinstance(n_dims, bool) or not isinstance(n_dims, Integral) or n_dims < 1:
        raise ValueError(f"`n_dims` must be an integer >= 1, got {n_dims!r}.")
    n_dims = int(n_dims)
    t = _as_times(times)
    counts = _as_counts(n_cells, t.size)
    if mu_start is None:
        mu_start = np.zeros(n_dims)
    if mu_end is None:
        mu_end = np.zeros(n_dims)
        mu_end[0] = 2.0
    mu0 = _as_mean(mu_start, n_dims, "mu_start")
    mu1 = _as_mean(mu_end, n_dims, "mu_end")
    s0 = _as_std(std_start, "std_start")
    s1 = _as_std(std_end, "std_end")
    m = None if masses is None else _as_masses(masses, t.size)

    rng = np.random.default_rng(random_state)
    mu_t, s_t, _, _ = _moments(t, t, mu0, mu1, s0, s1)
    blocks = [mu_t[k] + s_t[k] * rng.standard_normal((int(counts[k]), n_dims)) for k in range(t.size)]
    X = np.concatenate(blocks, axis=0)
    obs_time = np.repeat(t, counts)

    obs = pd.DataFrame({"time": obs_time}, index=pd.Index([f"cell_{i}" for i in range(X.shape[0])]))
    var = pd.DataFrame(index=pd.Index([f"dim{j + 1}" for j in range(n_dims)]))
    adata = ad.AnnData(X=X.copy(), obs=obs, var=var)
    adata.obsm["X_pca"] = X
    ground_truth: dict[str, np.ndarray | float] = {
        "times": t.copy(),
        "mu_start": mu0,
        "mu_end": mu1,
        "std_start": s0,
        "std_end": s1,
    }
    if m is not None:
        ground_truth["masses"] = m
    adata.uns["ground_truth"] = ground_truth
    return adata


def gaussian_path_velocity(
    x: np.ndarray,
    t: float | np.ndarray,
    *,
    times: Sequence[float] | np.ndarray,
    mu_start: float | Sequence[float] | np.ndarray,
    mu_end: float | Sequence[float] | np.ndarray,
    std_start: float,
    std_end: float,
    sigma: float = 0.0,
    masses: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Closed-form drift of the Gaussian path of :func:`gaussian_path`.

    For the path ``q_t = N(mu_t, s_t**2 I)`` with ``mu_t``, ``s_t`` linear in ``t``, the drift

    ``v(x, t) = mu_dot + (s_dot / s_t - sigma**2 / (2 s_t**2)) (x - mu_t)``

    makes ``dx = v dt + sigma dW`` have marginals ``q_t``. With ``sigma = 0`` it is the
    probability-flow (ODE) velocity, which moves ``x`` along the quantile map
    ``x -> mu_u + (s_u / s_t) (x - mu_t)``. It is the gradient of a quadratic action, i.e. the
    kinetic-energy minimising field.

    Parameters
    ----------
    x
        Positions, shape ``(n, d)`` or ``(d,)``.
    t
        Time: a scalar or one time per row of ``x`` (shape ``(n,)``).
    times, mu_start, mu_end, std_start, std_end
        Path parameters, as in :func:`gaussian_path`; ``mu_start`` and ``mu_end`` may be scalars.
        ``**adata.uns["ground_truth"]`` supplies them.
    sigma
        Diffusion coefficient (>= 0) of the SDE; 0 gives the probability-flow velocity.
    masses
        Ignored (accepted so that ``**adata.uns["ground_truth"]`` can be passed).

    Returns
    -------
    numpy.ndarray
        Drift, same shape as ``x`` (``float64``).

    Raises
    ------
    ValueError
        For invalid path parameters, mismatched shapes, ``sigma < 0``, or a time at which the
        (linearly extrapolated) standard deviation is not > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from scam.datasets import gaussian_path_velocity
    >>> kw = dict(times=[0.0, 1.0], mu_start=0.0, mu_end=[2.0, 0.0], std_start=1.0, std_end=0.5)
    >>> gaussian_path_velocity(np.zeros(2), 0.0, **kw)
    array([2., 0.])
    """
    del masses  # ground truth only; does not enter the drift
    tt = _as_times(times)
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim not in (1, 2):
        raise ValueError(f"`x` must have shape (n, d) or (d,), got {xa.shape}.")
    d = xa.shape[-1]
    mu0 = _as_mean(mu_start, d, "mu_start")
    mu1 = _as_mean(mu_end, d, "mu_end")
    s0 = _as_std(std_start, "std_start")
    s1 = _as_std(std_end, "std_end")
    try:
        sig = float(np.asarray(sigma, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"`sigma` must be a finite number >= 0, got {sigma!r}.") from None
    if not np.isfinite(sig) or sig < 0:
        raise ValueError(f"`sigma` must be a finite number >= 0, got {sigma!r}.")

    ta = np.asarray(t, dtype=np.float64)
    if ta.ndim == 0:
        ta = np.full(xa.shape[:-1], float(ta))
    elif xa.ndim == 1 or ta.shape != xa.shape[:-1]:
        raise ValueError(f"`t` must be a scalar or have shape {xa.shape[:-1]}, got {ta.shape}.")
    if not np.all(np.isfinite(ta)):
        raise ValueError("`t` must be finite.")

    mu_t, s_t, mu_dot, s_dot = _moments(ta, tt, mu0, mu1, s0, s1)
    if np.any(s_t <= 0):
        raise ValueError("The linearly extrapolated standard deviation is <= 0 at some of the requested times.")
    coef = s_dot / s_t - sig**2 / (2.0 * s_t**2)
    return mu_dot + coef[..., None] * (xa - mu_t)
