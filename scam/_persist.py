"""Saving and loading an :class:`~scam.ActionModel`: a state dict and JSON parameters, never pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .core.network import ActionNet, GrowthNet

WEIGHTS_FILE = "model.pt"
PARAMS_FILE = "params.json"
FORMAT_VERSION = 1
#: Prefix of the free growth head's tensors in ``model.pt``.
GROWTH_PREFIX = "growth_net."


def model_params(model) -> dict:
    """Everything needed to rebuild ``model`` besides the weights (JSON-serialisable)."""
    return {
        "format_version": FORMAT_VERSION,
        "net": model.net.config,
        "center": model.center.tolist(),
        "scale": model.scale,
        "t_origin": model.t_origin,
        "t_span": model.t_span,
        "sigma": model.sigma,
        "lam": model.lam,
        "metadata": model.metadata,
        **({"growth_net": model.growth_net.config} if model.growth_net is not None else {}),
    }


def save_model(model, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``model.pt`` (state dict) and ``params.json`` into the folder ``path``."""
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not overwrite:
        if not (path / PARAMS_FILE).exists():
            raise FileExistsError(f"{path} exists and is not a scam model folder; choose another path.")
        raise FileExistsError(f"{path} already holds a model; pass overwrite=True to replace it.")
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
    if model.growth_net is not None:  # one state dict: the growth head's tensors under a prefix
        state.update({GROWTH_PREFIX + k: v.detach().cpu() for k, v in model.growth_net.state_dict().items()})
    torch.save(state, path / WEIGHTS_FILE)
    (path / PARAMS_FILE).write_text(json.dumps(model_params(model), indent=2))
    return path


def load_model(cls, path: str | Path):
    """Build a ``cls`` (:class:`~scam.ActionModel`) from a folder written by :func:`save_model`, on the CPU."""
    path = Path(path)
    if not (path / PARAMS_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a scam model folder (needs {PARAMS_FILE} and {WEIGHTS_FILE}).")
    corrupt = f"save the model again (`model.save({str(path)!r}, overwrite=True)`) or refit it"
    try:
        params = json.loads((path / PARAMS_FILE).read_text())
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path / PARAMS_FILE} is not valid JSON ({e}); the file is damaged: {corrupt}.") from e
    if not isinstance(params, dict):
        raise ValueError(f"{path / PARAMS_FILE} was not written by ActionModel.save; {corrupt}.")
    if params.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"Unsupported model format {params.get('format_version')!r} in {path}.")
    missing = [k for k in ("net", "center", "scale", "t_origin", "t_span", "sigma", "lam") if k not in params]
    if missing:
        raise ValueError(f"{path / PARAMS_FILE} lacks {missing}; the file is damaged: {corrupt}.")
    try:
        state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError or EOFError for a damaged file
        raise ValueError(f"{path / WEIGHTS_FILE} cannot be read ({type(e).__name__}); {corrupt}.") from e
    net = ActionNet(**params["net"])
    growth_net = None
    try:
        if "growth_net" in params:
            growth_net = GrowthNet(**params["growth_net"])
            growth_net.load_state_dict(
                {k[len(GROWTH_PREFIX) :]: v for k, v in state.items() if k.startswith(GROWTH_PREFIX)}
            )
            state = {k: v for k, v in state.items() if not k.startswith(GROWTH_PREFIX)}
        net.load_state_dict(state)
    except (RuntimeError, AttributeError) as e:
        raise ValueError(
            f"The weights in {path / WEIGHTS_FILE} do not fit the network described in {path / PARAMS_FILE} "
            f"(the files come from different models?); {corrupt}."
        ) from e
    return cls(
        net,
        center=np.asarray(params["center"]),
        scale=params["scale"],
        t_origin=params["t_origin"],
        t_span=params["t_span"],
        sigma=params["sigma"],
        lam=params["lam"],
        metadata=params["metadata"],
        growth_net=growth_net,
    )
