"""Plotting (``scam.pl``); matplotlib is imported when a function draws."""

from ._benchmark import benchmark

__all__ = ["benchmark"]
