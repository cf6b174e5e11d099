"""Preprocessing (``scam.pp``): growth priors from gene sets."""

from ._growth_prior import growth_prior

__all__: list[str] = ["growth_prior"]
