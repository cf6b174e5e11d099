"""Published peers for the leave-one-timepoint-out (LOT) benchmark, run through their own libraries.

OT-CFM (Tong et al., TMLR 2024) is run with the real ``torchcfm`` package (PyPI ``torchcfm``),
set up as TorchCFM's own Lightning runner sets up its single-cell leave-one-out experiments.
``torchcfm`` is an optional dependency: it pulls ``torchdyn``, which pulls ``torchvision``, and
that needs a matching torch pair. Install it with::

    pip install torch==2.14.1 torchvision==0.29.1 "scam-sc[benchmark]"

What is copied from the runner, and from where
----------------------------------------------
All paths are in ``atong01/conditional-flow-matching``.

- ``runner/configs/model/otcfm.yaml``: ``torch.optim.AdamW`` with ``lr=0.001``,
  ``weight_decay=1e-5``; vector field ``VelocityNet`` with ``hidden_dims=[64, 64, 64]``,
  ``activation="selu"``, no batch norm (here: ``torchcfm.models.MLP(dim, time_varying=True,
  w=64)``, the same 3 hidden SELU layers of width 64 on the input ``[x, t]``);
  ``ot_sampler="exact"``; ``sigma_min=0.1``; ``partial_solver.ode_solver="euler"``. Here the
  coupling and the Gaussian path come from ``torchcfm``'s
  ``ExactOptimalTransportConditionalFlowMatcher(sigma=0.1)`` (exact minibatch OT plan with
  squared Euclidean cost, pairs drawn from the plan; ``x_t = t x1 + (1 - t) x0 + sigma eps``,
  target ``u_t = x1 - x0``), exactly the runner's ``calc_mu_sigma``/``calc_u`` for OT-CFM.
- ``runner/configs/datamodule/eb_full.yaml``: ``batch_size: 128`` cells per time point,
  ``train_val_test_split: [0.8, 0.1, 0.1]``. ``runner/configs/experiment/cfm.yaml``:
  ``trainer.max_epochs: 1000``. The datamodule's ``CombinedLoader(mode="min_size")`` makes an
  epoch as long as the smallest time point allows: on EB the smallest snapshot (time 0) has
  2,381 cells, its 80 % training split 1,905, i.e. ``1905 // 128 = 14`` minibatches, so the
  runner takes ``1000 * 14 = 14,000`` optimiser steps. That is the default ``n_iters`` here.
- ``runner/src/models/cfm_module.py``, ``CFMLitModule.preprocess_batch`` and
  ``calc_loc_and_target`` (the leave-one-out logic): each step draws one minibatch per time
  point, computes the OT plan between the minibatches of every consecutive pair of *remaining*
  times (the pair around the held-out time ``k`` is ``(k - 1, k + 1)``), then gives every element
  of the minibatch one pair chosen uniformly at random (``t_select``). Integer time labels are
  used as times: the network sees ``t_select + t`` with ``t ~ U[0, 1]``; for the pair that spans
  the held-out time, ``t`` is doubled and the target velocity halved (``ut /= 2``, ``t *= 2``),
  because that pair spans 2 time units. Here this is written for any numeric times: a pair
  ``(t_a, t_b)`` is fed ``t_a + (t_b - t_a) t`` with target ``(x1 - x0) / (t_b - t_a)``, which
  is the runner's rule for integer labels. Loss: ``torch.nn.MSELoss`` (mean over cells and
  dimensions).
- ``CFMLitModule.forward_eval_integrate`` (test branch) with
  ``runner/src/models/components/solver.py`` ``FlowSolver.odeint``: prediction of time ``i + 1``
  pushes *all* observed cells of time ``i`` through ``torchdyn.core.NeuralODE(..., solver="euler")``
  over ``t_span = torch.linspace(0, 1, 101) + i``, i.e. 100 fixed Euler steps per time unit;
  ``compute_distribution_distances`` then reports the W1 (POT ``emd2``, Euclidean cost) of that
  prediction against all cells of time ``i + 1``. Here: ``torchdyn`` ``NeuralODE`` with
  ``solver="euler"`` over ``torch.linspace(t_start, t_target, n_steps + 1)`` (``n_steps=100``).

Where this differs from the runner
----------------------------------
- The runner trains on a random 80 % split of every time point (and ignores the held-out
  time's cells); here all cells of the snapshots passed in are used, and minibatches are drawn
  without replacement independently at every step rather than in shuffled epochs.
- The runner's Lightning template evaluates the checkpoint chosen by its callbacks; here the
  weights after the last step are used.
- Randomness is local: the model initialisation and ``torchcfm``'s ``torch.rand``/``randn``
  draws run inside :func:`torch.random.fork_rng`, and ``torchcfm``'s OT plan sampling, which uses
  the global NumPy RNG (``np.random.choice``), runs with the NumPy global state seeded and then
  restored. On CPU, torch runs single-threaded during the call (restored afterwards).
"""

from __future__ import annotations

import importlib.util
import time
from contextlib import contextmanager

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["have_torchcfm", "otcfm_predict"]

_INSTALL_HINT = (
    "The OT-CFM peer needs the optional package `torchcfm` (which pulls torchdyn and torchvision). "
    'Install it with the pinned torch pair: pip install torch==2.14.1 torchvision==0.29.1 "scam-sc[benchmark]"'
)

#: Optimiser steps of TorchCFM's runner on EB: 1000 epochs x (1905 // 128) minibatches.
RUNNER_N_ITERS = 14_000
#: Cells per time point in one minibatch (``runner/configs/datamodule/eb_full.yaml``).
RUNNER_BATCH_SIZE = 128
#: ``sigma_min`` of ``runner/configs/model/otcfm.yaml``.
RUNNER_SIGMA = 0.1


def have_torchcfm() -> bool:
    """Whether the optional ``torchcfm`` package can be found (it is not imported)."""
    try:
        return importlib.util.find_spec("torchcfm") is not None
    except (ImportError, ValueError):
        return False


def _import_torchcfm():
    """Import what the OT-CFM peer needs, or raise an ImportError that says how to install it."""
    try:
        import torchcfm  # noqa: F401
        from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher
        from torchcfm.models import MLP
        from torchcfm.utils import torch_wrapper
        from torchdyn.core import NeuralODE
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return ExactOptimalTransportConditionalFlowMatcher, MLP, torch_wrapper, NeuralODE


@contextmanager
def _local_rng(seed: int, device: torch.device):
    """Seed torch's and NumPy's global RNGs for the block, then put both back as they were.

    On CPU the block also runs torch single-threaded (restored afterwards): the network is a
    64-wide MLP on 128 cells, for which intra-op threads only add synchronisation, and on a
    loaded 2-core machine two OpenMP threads made a training step over 100 times slower.
    """
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    np_state = np.random.get_state()
    n_threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            np.random.seed(seed)
            if device.type == "cpu":
                torch.set_num_threads(1)
            yield
    finally:
        torch.set_num_threads(n_threads)
        np.random.set_state(np_state)


def _check_inputs(marginals, times, x_start, t_start, t_target, n_iters, batch_size, sigma, n_steps):
    if len(marginals) != len(times):
        raise ValueError(f"Got {len(marginals)} marginals but {len(times)} times.")
    if len(marginals) < 2:
        raise ValueError("OT-CFM needs at least two observed time points.")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)):
        raise ValueError("`times` must be a list of finite numbers.")
    if len(np.unique(times)) != len(times):
        raise ValueError(f"`times` must be distinct, got {times.tolist()}.")
    xs = [np.asarray(m, dtype=np.float32) for m in marginals]
    dim = xs[0].shape[1] if xs[0].ndim == 2 else None
    for i, x in enumerate(xs):
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != dim:
            raise ValueError(f"marginals[{i}] must be a non-empty (n_cells, {dim}) array, got shape {x.shape}.")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"marginals[{i}] contains non-finite values.")
    x0 = np.asarray(x_start, dtype=np.float32)
    if x0.ndim != 2 or x0.shape[1] != dim:
        raise ValueError(f"`x_start` must be an (n_cells, {dim}) array, got shape {x0.shape}.")
    if not (np.isfinite(t_start) and np.isfinite(t_target)):
        raise ValueError("`t_start` and `t_target` must be finite.")
    if n_iters < 1 or batch_size < 1 or n_steps < 1:
        raise ValueError("`n_iters`, `batch_size` and `n_steps` must be positive.")
    if not sigma >= 0:
        raise ValueError(f"`sigma` must be non-negative, got {sigma}.")
    order = np.argsort(times)
    return [xs[i] for i in order], times[order], x0


def otcfm_predict(
    marginals: list[np.ndarray],
    times: list[float],
    t_target: float,
    x_start: np.ndarray,
    t_start: float,
    *,
    n_iters: int = RUNNER_N_ITERS,
    batch_size: int = RUNNER_BATCH_SIZE,
    sigma: float = RUNNER_SIGMA,
    n_steps: int = 100,
    device: str = "cpu",
    random_state: int = 0,
    progress_bar: bool = False,
) -> tuple[np.ndarray, float]:
    """Fit OT-CFM on the snapshots (already without the held-out one) and push x_start from t_start to t_target.

    One time-conditioned vector field is trained on all consecutive pairs of the observed times
    with ``torchcfm``'s exact-OT conditional flow matcher, as TorchCFM's runner does for its
    leave-one-out experiments (see the module docstring for what is copied from where), and the
    cells ``x_start`` are then integrated with a fixed-step Euler scheme (``torchdyn``).

    Parameters
    ----------
    marginals
        The observed snapshots, one ``(n_cells, n_dims)`` array per time in ``times``. Leave the
        held-out snapshot out.
    times
        The observed times (numeric, used as they are, e.g. ``[0, 1, 3, 4]`` when 2 is held out).
        Consecutive observed times are paired; a pair ``(t_a, t_b)`` is fed the network time
        ``t_a + (t_b - t_a) s`` with ``s ~ U[0, 1]`` and the target ``(x1 - x0) / (t_b - t_a)``.
    t_target
        The time to predict.
    x_start
        ``(n, n_dims)`` cells to push, e.g. all cells of the observed time just before ``t_target``.
    t_start
        The time of ``x_start``.
    n_iters
        Optimiser steps. The default, 14,000, is the runner's 1000 epochs of 14 minibatches on EB.
    batch_size
        Cells drawn per time point per step; the OT plan of each pair is computed on these
        (runner: 128). Each drawn cell then trains one pair chosen at random.
    sigma
        Standard deviation of the Gaussian probability path (runner: ``sigma_min = 0.1``).
    n_steps
        Euler steps from ``t_start`` to ``t_target`` (runner: 100 per time unit).
    device
        Torch device for training and integration, e.g. ``"cpu"`` or ``"cuda"``.
    random_state
        Seed of the model initialisation, minibatches, pair choice, OT plan draws and path noise.
        The global torch and NumPy RNG states are restored afterwards.
    progress_bar
        Show a tqdm bar over the training steps.

    Returns
    -------
    tuple[numpy.ndarray, float]
        The predicted cells, ``(n, n_dims)`` ``float64`` (row ``i`` is ``x_start[i]`` pushed to
        ``t_target``), and the wall-clock seconds spent fitting (integration not included).

    Raises
    ------
    ImportError
        If ``torchcfm`` (or ``torchdyn``) is not installed; the message says how to install it.
    ValueError
        If the inputs are inconsistent (shapes, repeated times, non-positive counts).

    Examples
    --------
    >>> import numpy as np
    >>> from scam.lot.peers import have_torchcfm, otcfm_predict
    >>> rng = np.random.default_rng(0)
    >>> snaps = [rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + [4.0, 0.0]]
    >>> if have_torchcfm():  # doctest: +SKIP
    ...     pred, seconds = otcfm_predict(snaps, [0.0, 2.0], 1.0, snaps[0], 0.0, n_iters=300)
    """
    fm_cls, mlp_cls, torch_wrapper, neural_ode_cls = _import_torchcfm()
    xs, ts, x0 = _check_inputs(marginals, times, x_start, t_start, t_target, n_iters, batch_size, sigma, n_steps)
    dev = torch.device(device)
    dim = xs[0].shape[1]
    pairs = [(a, a + 1) for a in range(len(xs) - 1)]
    data = [torch.from_numpy(x).to(dev) for x in xs]

    with _local_rng(random_state, dev):
        rng = np.random.default_rng(random_state)
        model = mlp_cls(dim=dim, time_varying=True, w=64).to(dev)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
        matcher = fm_cls(sigma=float(sigma))

        model.train()
        start = time.perf_counter()
        for _ in tqdm(range(n_iters), disable=not progress_bar, desc="OT-CFM"):
            batch = [
                d[torch.from_numpy(rng.choice(len(d), size=batch_size, replace=len(d) < batch_size)).to(dev)]
                for d in data
            ]
            counts = np.bincount(rng.integers(len(pairs), size=batch_size), minlength=len(pairs))
            t_in, x_in, u_in = [], [], []
            for (a, b), count in zip(pairs, counts, strict=True):
                if count == 0:
                    continue
                t, xt, ut = matcher.sample_location_and_conditional_flow(batch[a], batch[b])
                span = float(ts[b] - ts[a])
                t_in.append(float(ts[a]) + span * t[:count])
                x_in.append(xt[:count])
                u_in.append(ut[:count] / span)
            t_in, x_in, u_in = torch.cat(t_in), torch.cat(x_in), torch.cat(u_in)
            optimizer.zero_grad()
            v = model(torch.cat([x_in, t_in[:, None]], dim=-1))
            loss = torch.mean((v - u_in) ** 2)
            loss.backward()
            optimizer.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        fit_seconds = time.perf_counter() - start

        model.eval()
        node = neural_ode_cls(torch_wrapper(model), solver="euler")
        t_span = torch.linspace(float(t_start), float(t_target), n_steps + 1, device=dev)
        with torch.no_grad():
            _, traj = node(torch.from_numpy(x0).to(dev), t_span)
    return traj[-1].detach().cpu().numpy().astype(np.float64), fit_seconds
