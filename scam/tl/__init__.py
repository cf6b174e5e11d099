"""Tools: fit Action Matching and simulate cells (``scam.tl``)."""

from ._embedding import velocity_embedding
from ._fate import fate, transition_matrix
from ._fit import fit
from ._genes import gene_trends, gene_velocity
from ._graph import velocity_graph
from ._lot import leave_one_timepoint_out
from ._trajectories import trajectories

__all__ = ["fit", "leave_one_timepoint_out", "trajectories", "velocity_embedding", "velocity_graph"]
__all__ += ["fate", "gene_trends", "gene_velocity", "transition_matrix"]
