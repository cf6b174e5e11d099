"""Names of everything scam writes into an AnnData, in one place.

``key`` is the ``key_added`` of the call (default ``"scam"``).
"""

from __future__ import annotations

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
    """``layers`` key of the velocity mapped to genes (``uns`` key of its params: ``f"{key}_gene_velocity"``)."""
    return f"{key}_velocity"


def gene_trends(key: str = DEFAULT_KEY) -> str:
    """``uns`` key of the gene trends along simulated paths."""
    return f"{key}_gene_trends"


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
