"""Datasets: the Embryoid Body time course and synthetic snapshot data with known dynamics."""

from ._branching import branching, branching_rates
from ._eb import embryoid_body
from ._synthetic import gaussian_path, gaussian_path_velocity

__all__ = ["branching", "branching_rates", "embryoid_body", "gaussian_path", "gaussian_path_velocity"]
