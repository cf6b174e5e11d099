"""Pure-torch core of scam: the action network, the AM loss, couplings, interpolants, integrators, training.

Nothing here knows about AnnData; coordinates are standardised and times lie in ``[0, 1]``.
"""

from .couplings import entropic_plan, exact_plan, sample_pairs, unbalanced_mass_factors, unbalanced_plan
from .integrate import action_and_velocity, integrate
from .interpolants import INTERPOLANTS, Interpolant, PairInterpolant, SplineInterpolant, get_interpolant
from .losses import action_matching_loss, laplacian
from .metrics import mmd_rbf, wasserstein
from .network import ActionNet
from .train import TrainConfig, TrainResult, train_action

__all__ = [
    "INTERPOLANTS",
    "ActionNet",
    "Interpolant",
    "PairInterpolant",
    "SplineInterpolant",
    "TrainConfig",
    "TrainResult",
    "action_and_velocity",
    "action_matching_loss",
    "entropic_plan",
    "exact_plan",
    "get_interpolant",
    "integrate",
    "laplacian",
    "mmd_rbf",
    "sample_pairs",
    "train_action",
    "unbalanced_mass_factors",
    "unbalanced_plan",
    "wasserstein",
]
