"""Where the networks run: ``device="auto"`` and the checks of a device the user names."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; a device not available or not computing (``"meta"``) raises."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"`device` must be 'auto', 'cpu', 'cuda' or a torch device string, got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"Unknown device {device!r}; use 'auto', 'cpu' or 'cuda'.") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device='cuda'` was requested but CUDA is not available; use device='cpu' or 'auto'.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("`device='mps'` was requested but MPS is not available; use device='cpu' or 'auto'.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"`device={device!r}` is not a device scam can compute on (a {dev.type!r} tensor holds no data or needs "
            "its own backend); use 'auto', 'cpu' or 'cuda'."
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"`device={device!r}` was requested but there are {torch.cuda.device_count()} CUDA device(s) "
            "(numbered from 0); use 'cuda', 'cuda:0' or 'auto'."
        )
    return dev
