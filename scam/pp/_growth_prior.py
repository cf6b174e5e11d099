"""``scam.pp.growth_prior``: per-cell birth, death and growth rates from proliferation / apoptosis gene sets.

The gene sets are the ones moscot ships for ``TemporalProblem.score_genes_for_marginals`` (files in
``scam/pp/data/``, copied from ``moscot/utils/_data`` and ``moscot/_data``):

* ``human_proliferation.txt``: the cell-cycle (S and G2/M) genes of Tirosh et al., *Science* 352 (2016),
  as used by Waddington-OT (Schiebinger et al., *Cell* 176, 2019) and scanpy's cell-cycle scoring;
* ``mouse_proliferation.txt``: the same genes with mouse capitalisation (as in moscot);
* ``human_apoptosis.txt``: MSigDB ``HALLMARK_APOPTOSIS`` (Liberzon et al., *Cell Systems* 1, 2015);
* ``mouse_apoptosis.txt``: moscot's mouse apoptosis list (its own list, not a recapitalisation).

The rates follow the birth–death logistic model of Waddington-OT and moscot
(``moscot.problems.time._utils.beta`` / ``delta``), with the same default parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _keys
from .._validation import check_adata, check_key_added, check_positive, check_seed, writable

logger = logging.getLogger("scam")

__all__ = ["birth_death", "gene_set", "growth_prior"]

ORGANISMS = ("human", "mouse")
#: Default logistic parameters (moscot / Waddington-OT): rates per unit time.
DEFAULT_RATES = {
    "beta_max": 1.7,
    "beta_min": 0.3,
    "beta_center": 0.25,
    "beta_width": 0.5,
    "delta_max": 1.7,
    "delta_min": 0.3,
    "delta_center": 0.1,
    "delta_width": 0.2,
}
#: Fewer genes of a set found in ``var_names`` than this is an error (the score would be noise).
MIN_GENES = 3


def _read(organism: str, kind: str) -> list[str]:
    if organism not in ORGANISMS:
        raise ValueError(f"`organism` must be 'human' or 'mouse', got {organism!r}.")
    text = (resources.files("scam.pp") / "data" / f"{organism}_{kind}.txt").read_text()
    return [g.strip() for g in text.splitlines() if g.strip()]


def gene_set(kind: str, organism: str = "human") -> list[str]:
    """A shipped gene set: ``kind`` ``"proliferation"`` or ``"apoptosis"``, ``organism`` ``"human"`` or ``"mouse"``."""
    if kind not in ("proliferation", "apoptosis"):
        raise ValueError(f"`kind` must be 'proliferation' or 'apoptosis', got {kind!r}.")
    return _read(organism, kind)


def _logistic(x: np.ndarray, low: float, high: float, center: float, width: float) -> np.ndarray:
    """``low + (high − low) / (1 + exp(−(4 / width) (x − center)))`` (moscot's ``gen_logistic``)."""
    return low + (high - low) * 0.5 * (1.0 + np.tanh(0.5 * (4.0 / width) * (np.asarray(x, dtype=np.float64) - center)))


def birth_death(proliferation: np.ndarray, apoptosis: np.ndarray, **rates: float) -> tuple[np.ndarray, np.ndarray]:
    """Birth and death rates from proliferation and apoptosis scores (note §5).

    ``birth = beta_min + (beta_max − beta_min) · logistic((4 / beta_width) (p − beta_center))`` and
    ``death`` likewise from the apoptosis score ``a``; the growth rate is ``birth − death``.
    ``rates`` are the keyword parameters ``beta_max`` … ``delta_width`` of :func:`growth_prior`
    (those not given: :data:`DEFAULT_RATES`).
    """
    unknown = [name for name in rates if name not in DEFAULT_RATES]
    if unknown:
        raise TypeError(
            f"birth_death() got unexpected keyword arguments {unknown}; the rates are {list(DEFAULT_RATES)}."
        )
    r = {**DEFAULT_RATES, **rates}
    for name in ("beta_width", "delta_width"):
        check_positive(name, r[name])
    if r["beta_max"] < r["beta_min"] or r["delta_max"] < r["delta_min"]:
        raise ValueError(
            f"Need beta_max >= beta_min and delta_max >= delta_min, got beta=[{r['beta_min']}, {r['beta_max']}], "
            f"delta=[{r['delta_min']}, {r['delta_max']}]."
        )
    if r["beta_min"] < 0 or r["delta_min"] < 0:
        raise ValueError(f"Rates must be >= 0; got beta_min={r['beta_min']}, delta_min={r['delta_min']}.")
    birth = _logistic(proliferation, r["beta_min"], r["beta_max"], r["beta_center"], r["beta_width"])
    death = _logistic(apoptosis, r["delta_min"], r["delta_max"], r["delta_center"], r["delta_width"])
    return birth, death


def _as_genes(genes, default: list[str], name: str) -> list[str]:
    if genes is None:
        return default
    if isinstance(genes, str) or not isinstance(genes, Sequence | np.ndarray | pd.Index):
        raise ValueError(f"`{name}` must be a list of gene names (or None for the shipped set), got {genes!r}.")
    out = [str(g) for g in genes]
    if not out:
        raise ValueError(f"`{name}` is empty; give gene names or None for the shipped set.")
    return out


def _present(genes: list[str], var_names: pd.Index, name: str, organism: str) -> list[str]:
    found = [g for g in dict.fromkeys(genes) if g in var_names]
    if len(found) >= MIN_GENES:
        return found
    upper = {str(v).upper() for v in var_names}
    n_case = sum(g.upper() in upper for g in genes)
    hint = ""
    if n_case >= MIN_GENES:
        other = "mouse" if organism == "human" else "human"
        hint = f" {n_case} match when ignoring case: are these {other} genes? Pass `organism={other!r}`."
    elif not any(str(v).isalpha() for v in var_names[:50]) or "ENS" in str(var_names[0]):
        hint = " Are var_names gene symbols (not Ensembl ids)? Set `adata.var_names` to symbols."
    raise ValueError(
        f"Only {len(found)} of the {len(genes)} {name} are in adata.var_names (need >= {MIN_GENES}).{hint} "
        f"Or pass your own list as `{name}=[...]`."
    )


def _check_unique_genes(var_names: pd.Index) -> None:
    """Gene symbols must be unique: a duplicated symbol names two columns, so its expression is ambiguous."""
    if var_names.is_unique:
        return
    dup = list(dict.fromkeys(var_names[var_names.duplicated()].astype(str)))
    shown = ", ".join(map(repr, dup[:5])) + (f" and {len(dup) - 5} more" if len(dup) > 5 else "")
    raise ValueError(
        f"adata.var_names has {len(dup)} duplicated gene symbol(s) ({shown}), so their expression is ambiguous; run "
        "`adata.var_names_make_unique()` first (it renames the copies 'GENE-1', ...)."
    )


def _genes_used(kind: str, genes, var_names: pd.Index, organism: str) -> list[str]:
    """The ``kind`` genes (given, else shipped) found in ``var_names``; too few raise."""
    name = f"{kind}_genes"
    return _present(_as_genes(genes, _read(organism, kind), name), var_names, name, organism)


def _check_rates(given: dict) -> dict[str, float]:
    """The rate parameters as finite floats (they are checked against each other by :func:`birth_death`)."""
    rates = {}
    for name, val in given.items():
        try:
            rates[name] = float(val)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a number, got {val!r}.") from None
        if not np.isfinite(rates[name]):
            raise ValueError(f"`{name}` must be finite, got {val!r}.")
    birth_death(np.zeros(1), np.zeros(1), **rates)
    return rates


def _expression(adata: AnnData, layer: str | None, log_normalize: bool | None) -> tuple[object, bool]:
    """The expression matrix to score (checked), and whether to log-normalise it first."""
    if layer is not None and layer not in adata.layers:
        keys = ", ".join(map(repr, adata.layers.keys())) or "none"
        raise ValueError(f"`layer={layer!r}` is not in adata.layers (available: {keys}).")
    X = adata.layers[layer] if layer is not None else adata.X
    if X is None:
        raise ValueError("adata.X is empty; pass `layer=` with the expression to score.")
    if log_normalize is not None and not isinstance(log_normalize, bool):
        raise ValueError(f"`log_normalize` must be True, False or None, got {log_normalize!r}.")
    X = X.toarray() if sparse.issparse(X) and X.shape[1] < 1000 else X
    if not (sparse.issparse(X) or np.issubdtype(np.asarray(X).dtype, np.number)):
        raise ValueError("The expression matrix must be numeric.")
    dense_sample = X.data if sparse.issparse(X) else np.asarray(X)
    if not np.all(np.isfinite(dense_sample)):
        raise ValueError("The expression matrix has NaN or infinite values; remove or impute them.")
    return X, _looks_like_counts(X) if log_normalize is None else log_normalize


def _scores(adata: AnnData, X, normalize: bool, gene_sets: dict[str, list[str]], random_state: int) -> dict:
    """Score of each gene set per cell (:func:`scanpy.tl.score_genes`), computed on a private copy of ``X``."""
    import scanpy as sc

    # nothing of this reaches the user's adata but the documented columns
    work = AnnData(X=X.copy().astype(np.float32), obs=pd.DataFrame(index=adata.obs_names.copy()))
    work.var_names = adata.var_names.copy()
    if normalize:
        logger.info("growth_prior: normalising to 10,000 counts per cell and log1p (on a copy)")
        sc.pp.normalize_total(work, target_sum=1e4)
        sc.pp.log1p(work)
    ctrl = max(1, min(50, work.n_vars - sum(len(genes) for genes in gene_sets.values())))
    for kind, genes in gene_sets.items():
        kwargs = {"score_name": kind, "ctrl_size": ctrl, "random_state": random_state, "use_raw": False}
        try:
            sc.tl.score_genes(work, genes, **kwargs)
        except RuntimeError:  # a small gene panel leaves expression bins without control genes: fewer bins
            sc.tl.score_genes(work, genes, n_bins=max(1, work.n_vars // 10), **kwargs)
    return {kind: work.obs[kind].to_numpy(dtype=np.float64) for kind in gene_sets}


def _looks_like_counts(X) -> bool:
    data = X.data if sparse.issparse(X) else np.asarray(X)
    sample = np.asarray(data).ravel()[:100_000]
    return (
        sample.size > 0 and bool(np.all(sample >= 0)) and bool(np.all(sample == np.round(sample))) and sample.max() > 20
    )


def growth_prior(
    adata: AnnData,
    *,
    organism: str = "human",
    proliferation_genes: Sequence[str] | None = None,
    apoptosis_genes: Sequence[str] | None = None,
    layer: str | None = None,
    log_normalize: bool | None = None,
    beta_max: float = DEFAULT_RATES["beta_max"],
    beta_min: float = DEFAULT_RATES["beta_min"],
    beta_center: float = DEFAULT_RATES["beta_center"],
    beta_width: float = DEFAULT_RATES["beta_width"],
    delta_max: float = DEFAULT_RATES["delta_max"],
    delta_min: float = DEFAULT_RATES["delta_min"],
    delta_center: float = DEFAULT_RATES["delta_center"],
    delta_width: float = DEFAULT_RATES["delta_width"],
    random_state: int = 0,
    key_added: str = _keys.GROWTH_PRIOR,
    copy: bool = False,
) -> AnnData | None:
    """Prior growth rate per cell from proliferation and apoptosis gene scores.

    Scores each cell with :func:`scanpy.tl.score_genes` (mean expression of the set minus that
    of expression-matched control genes) for a proliferation set ``p`` and an apoptosis set
    ``a``, and turns them into rates with the birth–death logistic model of Waddington-OT and
    moscot (note §5)::

        birth = beta_min  + (beta_max  − beta_min)  · logistic((4 / beta_width)  (p − beta_center))
        death = delta_min + (delta_max − delta_min) · logistic((4 / delta_width) (a − delta_center))
        growth = birth − death

    Rates are per unit of time of the time course (per day in moscot's convention; rescale the
    ``*_max`` / ``*_min`` for other units). :func:`scam.tl.fit` with ``masses="growth_prior"``
    turns them into relative masses, ``m_{k+1} / m_k = mean over cells of time k of
    exp(growth · Δt)``, and with ``growth_penalty > 0`` pulls the learned growth toward them.
    Only *relative* growth is identified from normalised snapshots; the prior supplies the scale.

    Scoring runs on an internal copy: ``adata`` only gains the columns listed below.

    Parameters
    ----------
    adata
        Annotated data with gene symbols as ``var_names`` (unique: run ``adata.var_names_make_unique()``
        on duplicates) and expression in ``X`` (or ``layer``).
    organism
        ``"human"`` or ``"mouse"``: which shipped gene sets to use (see the module docstring for
        their sources: Tirosh et al. 2016 cell-cycle genes, MSigDB hallmark apoptosis; moscot's files).
    proliferation_genes, apoptosis_genes
        Your own gene lists instead of the shipped ones (genes not in ``var_names`` are skipped;
        at least 3 must be present).
    layer
        Layer to score instead of ``X``.
    log_normalize
        Normalise each cell to 10,000 counts and ``log1p`` before scoring (on the copy).
        ``None`` (default): only if the data look like raw counts (non-negative integers).
    beta_max, beta_min, beta_center, beta_width
        Birth-rate logistic: maximum and minimum rate, score at the midpoint, and width (the
        slope at the midpoint is ``(beta_max − beta_min) / beta_width``).
    delta_max, delta_min, delta_center, delta_width
        Death-rate logistic, likewise.
    random_state
        Seed of the control-gene draw of :func:`scanpy.tl.score_genes`.
    key_added
        Name of the growth column; the other columns are prefixed with it.
    copy
        Return an annotated copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy with ``copy=True``). Writes to ``adata.obs``:

    ``'{key_added}_proliferation'``, ``'{key_added}_apoptosis'``
        Gene-set scores.
    ``'{key_added}_birth'``, ``'{key_added}_death'``
        Rates per unit time.
    ``'{key_added}'``
        Growth rate ``birth − death`` per unit time.

    and ``adata.uns['{key_added}']`` with ``params`` and the genes used
    (``proliferation_genes``, ``apoptosis_genes``).

    Examples
    --------
    >>> import scam
    >>> adata = scam.datasets.branching(n_cells=100)
    >>> scam.pp.growth_prior(adata)
    >>> adata.obs["growth_prior"].describe()  # doctest: +SKIP
    """
    check_adata(adata)
    key_added = check_key_added(key_added)
    _keys.check_free(adata, _keys.GROWTH_PRIOR_TOOL, key_added)
    if organism not in ORGANISMS:
        raise ValueError(f"`organism` must be 'human' or 'mouse', got {organism!r}.")
    random_state = check_seed(random_state)
    _check_unique_genes(adata.var_names)
    given = (beta_max, beta_min, beta_center, beta_width, delta_max, delta_min, delta_center, delta_width)
    rates = _check_rates(dict(zip(DEFAULT_RATES, given, strict=True)))
    gene_sets = {
        "proliferation": _genes_used("proliferation", proliferation_genes, adata.var_names, organism),
        "apoptosis": _genes_used("apoptosis", apoptosis_genes, adata.var_names, organism),
    }
    X, normalize = _expression(adata, layer, log_normalize)
    scores = _scores(adata, X, normalize, gene_sets, random_state)
    birth, death = birth_death(scores["proliferation"], scores["apoptosis"], **rates)
    logger.info(
        "growth_prior: %d proliferation and %d apoptosis genes; growth rate %.3g .. %.3g (median %.3g)",
        len(gene_sets["proliferation"]),
        len(gene_sets["apoptosis"]),
        float((birth - death).min()),
        float((birth - death).max()),
        float(np.median(birth - death)),
    )

    adata = writable(adata, copy)
    for part, values in {**scores, "birth": birth, "death": death}.items():
        adata.obs[_keys.growth_prior_part(part, key_added)] = values
    adata.obs[_keys.growth_prior(key_added)] = birth - death
    adata.uns[key_added] = {
        "params": {
            **rates,
            "organism": organism,
            "layer": "X" if layer is None else layer,
            "log_normalize": bool(normalize),
            "random_state": random_state,
            "custom_proliferation_genes": proliferation_genes is not None,
            "custom_apoptosis_genes": apoptosis_genes is not None,
        },
        **{f"{kind}_genes": np.asarray(genes, dtype=object) for kind, genes in gene_sets.items()},
        _keys.WRITTEN: _keys.record(_keys.GROWTH_PRIOR_TOOL, key_added),
    }
    return adata if copy else None
