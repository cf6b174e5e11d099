"""Preprocessing (``scam.pp``): growth priors will live here."""

__all__: list[str] = []
