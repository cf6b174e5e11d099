"""Names of everything scam writes into an AnnData, in one place, and the record of what it wrote.

``key`` is the ``key_added`` of the call (default ``"scam"``). Every call that writes top-level keys
owns one ``uns`` entry and records there (under :data:`WRITTEN`) the tool and the other keys it
wrote; :func:`check_free` refuses a ``key_added`` whose keys exist without such a record (they are
the user's, or another tool's), and :func:`stale` lists what a refit makes out of date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

DEFAULT_KEY = "scam"


def velocity(key: str = DEFAULT_KEY) -> str:
    """``obsm`` key of the velocity in ``use_rep`` coordinates."""
    return f"{key}_velocity"


def potential(key: str = DEFAULT_KEY) -> str:
    """``obs`` key of the action (potential) value."""
    return f"{key}_potential"


def growth(key: str = DEFAULT_KEY) -> str:
    """``obs`` key of the growth rate ``λ s`` per unit time."""
    return f"{key}_growth"


def weight(key: str = DEFAULT_KEY) -> str:
    """``obs`` key of the mass multiplier over the interval to the next observed time."""
    return f"{key}_weight"


def velocity_embedding(key: str = DEFAULT_KEY, basis: str = "umap") -> str:
    """``obsm`` key of the velocity projected into an embedding (scvelo/cellrank naming ``{vkey}_{basis}``)."""
    return f"{velocity(key)}_{basis}"


def uns(key: str = DEFAULT_KEY) -> str:
    """``uns`` key holding params, history, time mapping and masses."""
    return key


#: Sub-key of ``uns[key]`` with simulated trajectories.
TRAJECTORIES = "trajectories"

#: Sub-key of ``uns[key]`` recording how velocities were projected into each embedding.
VELOCITY_EMBEDDING = "velocity_embedding"


# --- read-outs (scam.tl.fate, transition_matrix, gene_velocity, gene_trends)
def fate(key: str = DEFAULT_KEY) -> str:
    """``obsm`` key of the fate probabilities (``uns`` key of their ``classes`` and ``params``)."""
    return f"{key}_fate"


def transitions(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the class-to-class transition matrix."""
    return f"{key}_transitions"


def gene_velocity(key: str = DEFAULT_KEY) -> str:
    """``layers`` key of the velocity mapped to genes (``uns`` key of its params: :func:`gene_velocity_params`)."""
    return f"{key}_velocity"


def gene_velocity_params(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the params of :func:`gene_velocity`'s layer."""
    return f"{key}_gene_velocity"


def gene_velocity_genes(key: str = DEFAULT_KEY) -> str:
    """``obsm`` key of the gene velocity of a subset of genes (a DataFrame, one column per gene)."""
    return f"{key}_gene_velocity"


def gene_trends(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the gene trends along simulated paths."""
    return f"{key}_gene_trends"


# --- the scvelo bridge (scam.tl.velocity_graph): scvelo's names for ``vkey = velocity(key)``
def velocity_graph(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the positive cosines between velocities and displacements to neighbours (scvelo's name)."""
    return f"{velocity(key)}_graph"


def velocity_graph_neg(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the negative cosines of :func:`velocity_graph` (scvelo's name)."""
    return f"{velocity(key)}_graph_neg"


def velocity_params(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the graph's params, with the embeddings scvelo may take as they are (scvelo's name)."""
    return f"{velocity(key)}_params"


#: Key of ``uns[velocity_params(key)]`` listing the bases of ``obsm[velocity_embedding(key, basis)]`` (scvelo's name).
EMBEDDINGS = "embeddings"


# --- growth (scam.pp.growth_prior, scam.tl.fit(masses="growth_prior"))
#: Default ``key_added`` of :func:`scam.pp.growth_prior`.
GROWTH_PRIOR = "growth_prior"


def growth_prior(key: str = GROWTH_PRIOR) -> str:
    """``obs`` key of the prior growth rate ``birth − death`` per unit time (``uns`` key of its params)."""
    return key


def growth_prior_part(part: str, key: str = GROWTH_PRIOR) -> str:
    """``obs`` key of one part of the growth prior.

    ``part`` is ``"proliferation"`` or ``"apoptosis"`` (gene-set scores), ``"birth"`` or ``"death"`` (rates).
    """
    return f"{key}_{part}"


def learned_masses() -> str:
    """Sub-key of ``uns[key]`` with the mass the model predicts at each observed time (first = 1)."""
    return "learned_masses"


def prediction(label: str) -> str:
    """Key of a held-out time's prediction in ``uns[key]["predictions"][method]``.

    h5ad turns ``/`` inside a key into nested groups, so a time label such as ``"13/05"`` is
    stored as ``"13_05"``; the labels themselves are in ``uns[key]["params"]["held_out"]``.
    """
    return str(label).replace("/", "_")


def condition(name: str) -> str:
    """Key of a condition's record in ``uns[key]["conditions"]`` (``/`` stored as ``_``, as in :func:`prediction`)."""
    return str(name).replace("/", "_")


def check_distinct(names: Iterable[str], what: str) -> None:
    """Raise when two ``names`` (conditions, time labels) would be stored under one key (:func:`condition`)."""
    by_key: dict[str, list[str]] = {}
    for name in dict.fromkeys(map(str, names)):
        by_key.setdefault(condition(name), []).append(name)
    clashes = [group for group in by_key.values() if len(group) > 1]
    if clashes:
        raise ValueError(
            f"{what} {clashes[0]} would overwrite each other's results: scam stores them under one key, "
            f"{condition(clashes[0][0])!r} (h5ad turns '/' inside a key into nested groups, so '/' is stored as '_'). "
            "Rename one of them."
        )


# --- the record of what scam wrote (every check of "is this key scam's?" goes through here)
#: Sub-key of the ``uns`` entry a call owns: ``{"tool": ..., slot: [keys]}``, the keys it wrote besides the entry.
WRITTEN = "scam_written"

#: The tools that write top-level keys, as named in the records and in error messages.
FIT = "scam.tl.fit"
FATE = "scam.tl.fate"
TRANSITIONS = "scam.tl.transition_matrix"
GENE_VELOCITY = "scam.tl.gene_velocity"
GENE_TRENDS = "scam.tl.gene_trends"
VELOCITY_GRAPH = "scam.tl.velocity_graph"
LOT = "scam.tl.leave_one_timepoint_out"
GROWTH_PRIOR_TOOL = "scam.pp.growth_prior"
#: The parts of the growth prior :func:`scam.pp.growth_prior` writes besides the rate (:func:`growth_prior_part`).
GROWTH_PRIOR_PARTS = ("proliferation", "apoptosis", "birth", "death")

#: Read-outs whose results are named after a ``key_added``: a refit with that key makes them stale.
DERIVED = (FATE, TRANSITIONS, GENE_VELOCITY, GENE_TRENDS, VELOCITY_GRAPH)

#: Slots scam writes keys into (``obs`` columns, ``obsm``, ``layers`` and ``uns`` keys).
SLOTS = ("obs", "obsm", "layers", "uns")


def written_by(tool: str, key: str = DEFAULT_KEY) -> dict[str, list[str]]:
    """Top-level keys ``tool`` writes with ``key_added=key``, per slot; ``["uns"][0]`` is the entry it owns.

    Keys a call adds to a record later (the embeddings of :func:`scam.tl.velocity_embedding`) are not listed.
    """
    return {
        FIT: {"obs": [potential(key), growth(key), weight(key)], "obsm": [velocity(key)], "uns": [uns(key)]},
        FATE: {"obsm": [fate(key)], "uns": [fate(key)]},
        TRANSITIONS: {"uns": [transitions(key)]},
        GENE_VELOCITY: {
            "layers": [gene_velocity(key)],
            "obsm": [gene_velocity_genes(key)],
            "uns": [gene_velocity_params(key)],
        },
        GENE_TRENDS: {"uns": [gene_trends(key)]},
        VELOCITY_GRAPH: {"uns": [velocity_params(key), velocity_graph(key), velocity_graph_neg(key)]},
        LOT: {"uns": [key]},
        GROWTH_PRIOR_TOOL: {
            "obs": [growth_prior(key), *(growth_prior_part(part, key) for part in GROWTH_PRIOR_PARTS)],
            "uns": [key],
        },
    }[tool]


def owner(tool: str, key: str = DEFAULT_KEY) -> str:
    """The ``uns`` key of the entry ``tool`` owns (and keeps its record in) with ``key_added=key``."""
    return written_by(tool, key)["uns"][0]


def record(tool: str, key: str = DEFAULT_KEY, *, skip: Iterable[tuple[str, str]] = ()) -> dict:
    """The record :data:`WRITTEN` of a call of ``tool`` with ``key_added=key`` (h5ad-serialisable).

    ``skip``: ``(slot, key)`` of :func:`written_by` that this call does not write (e.g. the ``layers`` entry of
    :func:`scam.tl.gene_velocity` when it writes a subset of genes into ``obsm``).
    """
    leave = {("uns", owner(tool, key)), *skip}
    keys = {slot: [k for k in names if (slot, k) not in leave] for slot, names in written_by(tool, key).items()}
    return {"tool": tool, **{slot: names for slot, names in keys.items() if names}}


def _names(value) -> list[str]:
    """Keys listed in a record (a list, or the array h5ad reads back)."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def recorded(adata, entry: str, tool: str) -> set[tuple[str, str]] | None:
    """``(slot, key)`` of everything ``tool``'s record in ``uns[entry]`` lists, the entry included.

    ``None`` when ``uns[entry]`` is missing or was not written by ``tool`` (no record, or another tool's).
    """
    value = adata.uns.get(entry)
    rec = value.get(WRITTEN) if isinstance(value, Mapping) else None
    if not isinstance(rec, Mapping) or str(rec.get("tool")) != tool:
        return None
    return {("uns", entry)} | {(slot, k) for slot in SLOTS if slot in rec for k in _names(rec[slot])}


def _present(adata, slot: str, key: str) -> bool:
    return key in (adata.obs.columns if slot == "obs" else getattr(adata, slot))


def check_free(
    adata,
    tool: str,
    key: str,
    *,
    extra: Mapping[str, Iterable[str]] | None = None,
    inputs: Mapping[str, Iterable[str]] | None = None,
    arg: str = "key_added",
    fix: str | None = None,
    skip: Iterable[tuple[str, str]] = (),
) -> None:
    """Raise ``ValueError`` when a call of ``tool`` with ``key_added=key`` would overwrite what scam did not write.

    A key it writes (:func:`written_by`, plus ``extra`` per slot) may already exist only when the
    record of the entry it owns (:func:`recorded`) lists it: a rerun may replace its own results,
    never a user's column, embedding or ``uns`` entry, nor another tool's. ``inputs`` (per slot) are
    keys the call reads, which it may never overwrite; ``skip`` lists keys of :func:`written_by` that this call does
    not write. The message ends with ``fix``, by default: choose another ``arg`` (with a free one as example).
    """
    own = recorded(adata, owner(tool, key), tool) or set()
    protected = {(slot, k) for slot, names in (inputs or {}).items() for k in names}
    skip = set(skip)
    writes = {slot: [k for k in names if (slot, k) not in skip] for slot, names in written_by(tool, key).items()}
    for slot, names in (extra or {}).items():
        writes.setdefault(slot, []).extend(names)
    planned = [(slot, k) for slot, names in writes.items() for k in names]
    read = [f"adata.{slot}[{k!r}]" for slot, k in planned if (slot, k) in protected]
    foreign = [
        f"adata.{slot}[{k!r}]"
        for slot, k in planned
        if (slot, k) not in protected and _present(adata, slot, k) and (slot, k) not in own
    ]
    if read or foreign:
        why = ([f"{', '.join(foreign)}, which {tool} did not write"] if foreign else []) + (
            [f"{', '.join(read)}, which it reads"] if read else []
        )
        if fix is None:
            fix = (
                f"choose another `{arg}` (e.g. {arg}={_free_key(adata, key, writes, protected)!r}), or delete those "
                "keys first if you no longer need them"
            )
        raise ValueError(f"`{arg}={key!r}` would overwrite {' and '.join(why)}; {fix}.")


def _free_key(adata, key: str, writes: Mapping[str, list[str]], protected: set) -> str:
    """A ``key_added`` like ``key`` whose keys are all free, for the error message."""
    for i in range(2, 100):
        candidate = f"{key}_{i}"
        names = {slot: [k.replace(key, candidate, 1) for k in ks] for slot, ks in writes.items()}
        if not any((s, k) in protected or _present(adata, s, k) for s, ks in names.items() for k in ks):
            return candidate
    return f"{key}_new"


def stale(adata, key: str) -> list[tuple[str, str]]:
    """``(slot, key)`` that a new fit with ``key_added=key`` makes out of date (scam's records only).

    Those the earlier fit's record lists beyond what a fit rewrites (the embeddings of its velocity),
    and everything the read-outs named after ``key`` (:data:`DERIVED`) wrote. The earlier fit's
    ``uns[key]`` (with its ``trajectories``) is replaced as a whole.
    """
    rewritten = {(slot, k) for slot, names in written_by(FIT, key).items() for k in names}
    out = sorted((recorded(adata, uns(key), FIT) or set()) - rewritten)
    for tool in DERIVED:
        out += sorted(recorded(adata, owner(tool, key), tool) or set())
    return [(slot, k) for slot, k in out if _present(adata, slot, k)]


def remove(adata, keys: Iterable[tuple[str, str]]) -> None:
    """Delete ``(slot, key)`` from ``adata`` (``obs`` columns, ``obsm``/``layers``/``uns`` keys)."""
    for slot, k in keys:
        if slot == "obs":
            del adata.obs[k]
        else:
            del getattr(adata, slot)[k]


@contextmanager
def restoring(adata, keys: Iterable[tuple[str, str]]) -> Iterator[None]:
    """Put ``(slot, key)`` of ``adata`` back as they were when the block raises (Ctrl-C included).

    Wraps the write phase of a result so that it lands whole or not at all: the values are kept by
    reference (no copies), and ``obs`` gets its former columns in their former order.
    """
    keys = list(dict.fromkeys(keys))
    saved = [(slot, k, _get(adata, slot, k)) for slot, k in keys]
    columns = list(adata.obs.columns)
    try:
        yield
    except BaseException:
        for slot, k, value in saved:
            if value is not _ABSENT:
                (adata.obs if slot == "obs" else getattr(adata, slot))[k] = value
            elif _present(adata, slot, k):
                remove(adata, [(slot, k)])
        if list(adata.obs.columns) != columns:
            adata.obs = adata.obs[columns]
        raise


_ABSENT = object()


def _get(adata, slot: str, key: str):
    if not _present(adata, slot, key):
        return _ABSENT
    return adata.obs[key] if slot == "obs" else getattr(adata, slot)[key]


def add_to_record(adata, entry: str, slot: str, key: str) -> None:
    """List ``key`` in the record of ``uns[entry]`` (a key written later under an existing entry)."""
    rec = adata.uns[entry][WRITTEN]
    names = _names(rec.get(slot, []))
    if key not in names:
        rec[slot] = [*names, key]
