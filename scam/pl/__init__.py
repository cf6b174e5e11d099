"""Plotting (``scam.pl``)."""

__all__: list[str] = []
