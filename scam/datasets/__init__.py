"""Datasets: the Embryoid Body time course and synthetic snapshot data with known dynamics."""

from ._eb import embryoid_body
from ._synthetic import gaussian_path, gaussian_path_velocity

__all__ = ["embryoid_body", "gaussian_path", "gaussian_path_velocity"]
