"""Saving and loading an :class:`~scam.ActionModel`: a state dict and JSON parameters, never pickle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from ._io import check_output, expand, replacing_folder
from .core.network import QUADRATIC, ActionNet, GrowthNet

WEIGHTS_FILE = "model.pt"
PARAMS_FILE = "params.json"
FORMAT_VERSION = 1
#: Prefix of the free growth head's tensors in ``model.pt``.
GROWTH_PREFIX = "growth_net."
#: Bounds of a sane network config in ``params.json`` (a damaged file must not allocate a giant network).
MAX_WIDTH, MAX_LAYERS, MAX_FREQUENCIES = 1 << 20, 64, 1024


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


def check_save_path(path: str | Path, *, overwrite: bool = False, flag: str | None = None) -> Path:
    """Check that a model can be saved at ``path`` (before any work); return it ``~``-expanded.

    ``path`` must be a folder path whose nearest existing parent is writable; an existing folder must be
    empty, or hold a model (nothing but ``model.pt`` and ``params.json``) and ``overwrite`` be set: a folder
    holding anything else is never replaced. ``flag`` names the path in errors (``"--model-dir"``).
    """
    path = check_output(path, kind="folder", flag=flag)
    entries = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if entries and not set(entries) <= {WEIGHTS_FILE, PARAMS_FILE}:
        raise FileExistsError(
            f"{path} exists and is not a scam model folder; choose another {flag or 'path'} (it holds {entries[:5]})."
        )
    if entries and not overwrite:
        raise FileExistsError(f"{path} already holds a model; pass overwrite=True to replace it.")
    return path


def write_model_files(model, folder: Path) -> None:
    """Write ``model.pt`` and ``params.json`` into the existing, empty ``folder`` (no checks, not atomic)."""
    state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
    if model.growth_net is not None:  # one state dict: the growth head's tensors under a prefix
        state.update({GROWTH_PREFIX + k: v.detach().cpu() for k, v in model.growth_net.state_dict().items()})
    bad = [k for k, v in state.items() if not torch.isfinite(v).all()]
    if bad:  # load_model refuses such weights: fail here, before any file is written
        raise ValueError(
            f"The model's weights hold non-finite values (NaN or infinity) in {bad[:4]}: a fit that diverged? Refit "
            "it (e.g. with a lower `lr`); a model with such weights predicts nothing and cannot be loaded."
        )
    params = json.dumps(model_params(model), indent=2)  # fails before any file is written
    torch.save(state, folder / WEIGHTS_FILE)
    (folder / PARAMS_FILE).write_text(params, encoding="utf-8")


def save_model(model, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``model.pt`` (state dict) and ``params.json`` into the folder ``path`` (``~`` expanded).

    The files are written into a new sibling folder that replaces ``path`` only once complete
    (:func:`scam._io.replacing_folder`): a failure at any point leaves the previous folder as it was, and
    a failed first save leaves no folder behind.
    """
    path = check_save_path(path, overwrite=overwrite)
    with replacing_folder(path) as new:
        write_model_files(model, new)
    return path


def _number(params: dict, key: str, *, low: float | None = None, strict: bool = False) -> str | None:
    """Why ``params[key]`` is not a finite number (``> low`` when ``strict``, else ``>= low``); None if it is."""
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return f"`{key}` must be a finite number, got {v!r}"
    if low is not None and (v <= low if strict else v < low):
        return f"`{key}` must be {'>' if strict else '>='} {low}, got {v!r}"
    return None


def _count(v, *, low: int, high: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _net_problem(config, key: str) -> str | None:
    """Why ``config`` (``params[key]``) cannot build an :class:`ActionNet`; None if it can."""
    if not isinstance(config, dict):
        return f"`{key}` must be a dict of network settings, got {type(config).__name__}"
    expected = {"n_dims", "hidden", "n_frequencies"}  # and "quadratic" (absent in models saved before it)
    if not expected <= set(config) <= expected | {"quadratic"}:
        return f"`{key}` must have the keys {sorted(expected)} (and optionally 'quadratic'), got {sorted(config)}"
    if config.get("quadratic", "none") not in QUADRATIC:
        return f"`{key}.quadratic` must be one of {list(QUADRATIC)}, got {config['quadratic']!r}"
    if not _count(config["n_dims"], low=1, high=MAX_WIDTH):
        return f"`{key}.n_dims` must be an integer in [1, {MAX_WIDTH}], got {config['n_dims']!r}"
    hidden = config["hidden"]
    if (
        not isinstance(hidden, list)
        or len(hidden) > MAX_LAYERS
        or not all(_count(h, low=1, high=MAX_WIDTH) for h in hidden)
    ):
        return f"`{key}.hidden` must be a list of at most {MAX_LAYERS} integers in [1, {MAX_WIDTH}], got {hidden!r}"
    if not _count(config["n_frequencies"], low=0, high=MAX_FREQUENCIES):
        return f"`{key}.n_frequencies` must be an integer in [0, {MAX_FREQUENCIES}], got {config['n_frequencies']!r}"
    return None


def _params_problem(params: dict) -> str | None:
    """Why ``params`` (read from ``params.json``) does not describe a model; None if it does."""
    missing = [
        k for k in ("net", "center", "scale", "t_origin", "t_span", "sigma", "lam", "metadata") if k not in params
    ]
    if missing:
        return f"lacks {missing}"
    problem = _net_problem(params["net"], "net")
    if problem is None and "growth_net" in params:
        problem = _net_problem(params["growth_net"], "growth_net")
        if problem is None and params["growth_net"]["n_dims"] != params["net"]["n_dims"]:
            problem = f"`growth_net.n_dims` ({params['growth_net']['n_dims']}) differs from `net.n_dims`"
    if problem is not None:
        return problem
    center, n_dims = params["center"], params["net"]["n_dims"]
    if not isinstance(center, list) or not all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in center
    ):
        return f"`center` must be a list of finite numbers, got {str(center)[:80]}"
    if len(center) != n_dims:
        return f"`center` has {len(center)} values but the network has `net.n_dims` = {n_dims}"
    for key, low, strict in (("scale", 0, True), ("t_origin", None, False), ("t_span", 0, True)):
        if (problem := _number(params, key, low=low, strict=strict)) is not None:
            return problem
    for key in ("sigma", "lam"):
        if (problem := _number(params, key, low=0)) is not None:
            return problem
    if not isinstance(params["metadata"], dict):
        return f"`metadata` must be a dict, got {type(params['metadata']).__name__}"
    return _time_metadata_problem(params["metadata"])


#: Entries of ``metadata`` that the read-outs use as column or ``obsm`` names: a string when present.
NAME_METADATA = ("time_key", "use_rep", "condition_key", "condition")


def _time_metadata_problem(metadata: dict) -> str | None:
    """Why the fit's time points in ``metadata`` (labels and values, read by the read-outs) are damaged; None if not.

    The names the read-outs look up (:data:`NAME_METADATA`) must be strings (or absent, or ``None``).
    """
    for key in NAME_METADATA:
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            return f"`metadata.{key}` must be a string, got {str(metadata[key])[:80]}"
    labels, values = metadata.get("time_labels"), metadata.get("time_values")
    if labels is None and values is None:
        return None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return f"`metadata.time_labels` must be a list of strings, got {str(labels)[:80]}"
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        return f"`metadata.time_values` must be a list of finite numbers, got {str(values)[:80]}"
    if len(labels) != len(values):
        return f"`metadata` has {len(labels)} `time_labels` but {len(values)} `time_values`"
    if any(b <= a for a, b in zip(values[:-1], values[1:], strict=True)):
        return f"`metadata.time_values` must increase, got {str(values)[:80]}"
    return None


def _weights_problem(state, nets: dict[str, ActionNet]) -> str | None:
    """Why ``state`` (read from ``model.pt``) does not fit ``nets`` (prefix -> network); None if it does."""
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a state dict"
    expected = {prefix + k: v.shape for prefix, net in nets.items() for k, v in net.state_dict().items()}
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        return " and ".join(
            [
                *([f"lacks the tensors {missing[:4]}"] if missing else []),
                *([f"has unexpected {extra[:4]}"] if extra else []),
            ]
        )
    for k, v in state.items():
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            return f"`{k}` is not a floating-point tensor"
        if v.shape != expected[k]:
            return f"`{k}` has shape {tuple(v.shape)}, the network needs {tuple(expected[k])}"
        if not torch.isfinite(v).all():
            return f"`{k}` holds non-finite values (NaN or infinity)"
    return None


def load_model(cls, path: str | Path):
    """Build a ``cls`` (:class:`~scam.ActionModel`) from a folder written by :func:`save_model`, on the CPU.

    ``params.json`` is checked against the schema of :func:`model_params` (types, finite values,
    ``scale > 0``, ``t_span > 0``, ``sigma, lam >= 0``, ``center`` of the network's width) and ``model.pt``
    against the network it describes (tensor names and shapes, finite weights) before anything is built;
    a damaged folder raises one ``ValueError`` that names the field and the fix.
    """
    path = expand(path)
    if not (path / PARAMS_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a scam model folder (needs {PARAMS_FILE} and {WEIGHTS_FILE}).")
    corrupt = f"save the model again (`model.save({str(path)!r}, overwrite=True)`) or refit it"
    try:
        params = json.loads((path / PARAMS_FILE).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path / PARAMS_FILE} is not valid JSON ({e}); the file is damaged: {corrupt}.") from e
    if not isinstance(params, dict):
        raise ValueError(f"{path / PARAMS_FILE} was not written by ActionModel.save; {corrupt}.")
    if params.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"Unsupported model format {params.get('format_version')!r} in {path}.")
    if (problem := _params_problem(params)) is not None:
        raise ValueError(f"{path / PARAMS_FILE} {problem}; the file is damaged: {corrupt}.")
    try:
        state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError or EOFError for a damaged file
        raise ValueError(f"{path / WEIGHTS_FILE} cannot be read ({type(e).__name__}); {corrupt}.") from e
    net = ActionNet(**params["net"])
    growth_net = GrowthNet(**params["growth_net"]) if "growth_net" in params else None
    nets = {"": net, **({GROWTH_PREFIX: growth_net} if growth_net is not None else {})}
    if (problem := _weights_problem(state, nets)) is not None:
        raise ValueError(
            f"The weights in {path / WEIGHTS_FILE} do not fit the network described in {path / PARAMS_FILE} "
            f"({problem}; the files come from different models?); {corrupt}."
        )
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith(GROWTH_PREFIX)})
    if growth_net is not None:
        growth_net.load_state_dict(
            {k[len(GROWTH_PREFIX) :]: v for k, v in state.items() if k.startswith(GROWTH_PREFIX)}
        )
    return cls(
        net,
        center=np.asarray(params["center"], dtype=np.float64),
        scale=params["scale"],
        t_origin=params["t_origin"],
        t_span=params["t_span"],
        sigma=params["sigma"],
        lam=params["lam"],
        metadata=params["metadata"],
        growth_net=growth_net,
    )
