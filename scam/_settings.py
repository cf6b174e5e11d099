"""``scam.settings``: how many CPU threads scam's torch work may use, and the CPUs this process may use.

torch starts one OpenMP thread per core of the machine. On a laptop running other work, or on a cluster node
where a job gets a few cores of many, those threads spin and wait for each other: a fit that takes 48 s on a
quiet machine took over 20 minutes beside a few busy processes. scam therefore runs its torch work (training,
simulation, read-outs) with :attr:`Settings.n_threads` threads, by default the CPUs this process may actually
use (its affinity mask and its cgroup CPU quota, not the node's core count) that are idle, and puts the
caller's torch thread count back afterwards (:func:`torch_threads`).
"""

from __future__ import annotations

import math
import operator
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

#: Where the cgroup file systems are mounted, and the file naming this process's cgroups (tests point them
#: at fake trees).
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
#: cgroup v1 mount points of the ``cpu`` controller under :data:`CGROUP_ROOT`.
V1_CPU_MOUNTS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


# ------------------------------------------------------------------------------------------- CPUs we may use
def parse_cpu_max(text: str) -> int | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"QUOTA PERIOD"``): ``ceil(QUOTA / PERIOD)``; ``None`` for ``max``."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    period = int(fields[1]) if len(fields) > 1 else 100_000
    return _quota_cpus(int(fields[0]), period)


def parse_cfs(quota: str, period: str) -> int | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``; ``None`` for a quota of -1."""
    return _quota_cpus(int(quota.strip()), int(period.strip()))


def _quota_cpus(quota: int, period: int) -> int | None:
    if quota <= 0 or period <= 0:  # -1: no quota
        return None
    return max(1, math.ceil(quota / period))


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroups(proc_cgroup: Path) -> tuple[str | None, str | None]:
    """The cgroup path of this process in the v2 hierarchy and in the v1 ``cpu`` hierarchy (``None``: not listed)."""
    v2 = v1 = None
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _up_to_root(base: Path, cgroup: str | None) -> list[Path]:
    """``base/cgroup`` and each of its parents up to ``base`` (a quota set on a parent limits its children too)."""
    parts = [p for p in (cgroup or "").split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def cgroup_cpu_limit(root: Path | None = None, proc_cgroup: Path | None = None) -> int | None:
    """CPUs the cgroup CPU quota allows this process (the smallest quota on its cgroup and the cgroups above).

    Reads cgroup v2 ``cpu.max`` and cgroup v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``; a quota of ``Q`` µs
    per period of ``P`` µs allows ``ceil(Q / P)`` CPUs (at least 1). ``None``: no quota, or no cgroup files
    (not Linux).

    Parameters
    ----------
    root
        Where the cgroup file systems are mounted (default :data:`CGROUP_ROOT`).
    proc_cgroup
        The file naming this process's cgroups (default :data:`PROC_CGROUP`).
    """
    root = CGROUP_ROOT if root is None else Path(root)
    v2, v1 = _own_cgroups(PROC_CGROUP if proc_cgroup is None else Path(proc_cgroup))
    limits = []
    for folder in _up_to_root(root, v2):
        text = _read(folder / "cpu.max")
        if text is not None:
            limits.append(_parse_or_none(parse_cpu_max, text))
    for mount in V1_CPU_MOUNTS:
        for folder in _up_to_root(root / mount, v1):
            quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
            if quota is not None and period is not None:
                limits.append(_parse_or_none(parse_cfs, quota, period))
    limits = [n for n in limits if n is not None]
    return min(limits) if limits else None


def _parse_or_none(parse, *texts: str) -> int | None:
    try:
        return parse(*texts)
    except (ValueError, IndexError):  # a file we do not understand limits nothing
        return None


def _affinity() -> set[int] | None:
    """The affinity mask of this process (``os.sched_getaffinity``); ``None`` where the OS does not say."""
    try:
        return set(os.sched_getaffinity(0)) or None
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return None


def affinity_cpus() -> int | None:
    """CPUs in this process's affinity mask; ``None`` where the OS does not say."""
    cpus = _affinity()
    return len(cpus) if cpus else None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by the cgroup CPU quota; else ``os.cpu_count()``."""
    n = affinity_cpus() or os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(n, limit) if limit is not None else n)


def omp_num_threads() -> int | None:
    """The thread count set by the ``OMP_NUM_THREADS`` environment variable (its first level), if any."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        n = int(value)
    except ValueError:
        return None
    return n if n > 0 else None


#: Per-CPU time counters of the kernel, read twice :data:`IDLE_SAMPLE_SECONDS` apart by :func:`idle_cpus`; the
#: automatic thread count is kept :data:`IDLE_CACHE_SECONDS` (a fit or a read-out does not pay for it again).
PROC_STAT = Path("/proc/stat")
IDLE_SAMPLE_SECONDS, IDLE_CACHE_SECONDS = 0.05, 10.0
_idle_cache: tuple[float, float | None] | None = None


def _cpu_times(text: str) -> dict[int, tuple[int, int]]:
    """``{cpu: (idle, total)}`` jiffies of each ``cpuN`` line of ``/proc/stat`` (idle includes iowait)."""
    out = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit()) or len(fields) < 4:
            continue
        values = [int(v) for v in fields[:8]]
        out[int(name[3:])] = (values[3] + (values[4] if len(values) > 4 else 0), sum(values))
    return out


def idle_from_stats(before: str, after: str, cpus: set[int] | None = None) -> float | None:
    """Idle CPUs (a sum of idle fractions) among ``cpus`` between two readings of ``/proc/stat``.

    ``None`` when the readings say nothing (no time passed, no such CPUs, unreadable text).
    """
    try:
        a, b = _cpu_times(before), _cpu_times(after)
    except ValueError:
        return None
    idle, seen = 0.0, False
    for cpu in b.keys() & a.keys():
        if cpus is not None and cpu not in cpus:
            continue
        d_idle, d_total = b[cpu][0] - a[cpu][0], b[cpu][1] - a[cpu][1]
        if d_total > 0:
            idle += min(1.0, max(0.0, d_idle / d_total))
            seen = True
    return idle if seen else None


def idle_cpus(interval: float = IDLE_SAMPLE_SECONDS) -> float | None:
    """How many of this process's CPUs (affinity mask) are idle now: ``/proc/stat`` read ``interval`` s apart.

    ``None`` where ``/proc/stat`` is missing (not Linux). Used by :func:`default_n_threads` so that scam does
    not start more threads than there are free cores: torch's OpenMP threads spin while they wait for each
    other, and on cores that other processes keep busy a 2-thread fit ran ~10x slower than a 1-thread one.
    """
    import time

    own_before, start = os.times(), time.monotonic()
    before = _read(PROC_STAT)
    if before is None:
        return None
    time.sleep(interval)
    after = _read(PROC_STAT)
    own_after, elapsed = os.times(), time.monotonic() - start
    cpus = _affinity()
    idle = idle_from_stats(before, after or "", cpus)
    if idle is None:
        return None
    # this process's own threads (BLAS or OpenMP threads still spinning after earlier work) are not other load
    own = (own_after.user + own_after.system - own_before.user - own_before.system) / max(elapsed, 1e-9)
    n = len(cpus) if cpus else (os.cpu_count() or 1)
    return min(float(n), idle + max(0.0, own))


def default_n_threads() -> int:
    """The automatic :attr:`Settings.n_threads`: the CPUs this process may use that are free now.

    :func:`available_cpus` (affinity mask and cgroup quota), at most ``OMP_NUM_THREADS`` when set, and at most
    the idle CPUs of the affinity mask (:func:`idle_cpus`, rounded, at least 1), so a fit beside busy
    processes runs one thread instead of threads that fight for the same cores. ``OMP_NUM_THREADS`` is how a
    user, a batch system or Dask (one thread per worker process) caps the threads of every library at once;
    scam keeps to it. The idle CPUs are measured at most every :data:`IDLE_CACHE_SECONDS`.
    """
    n = available_cpus()
    env = omp_num_threads()
    if env is not None:
        n = min(n, env)
    idle = _recent_idle_cpus() if n > 1 else None
    if idle is not None:
        n = max(1, min(n, int(idle + 0.5)))
    return n


def _recent_idle_cpus() -> float | None:
    """:func:`idle_cpus`, measured at most every :data:`IDLE_CACHE_SECONDS`."""
    import time

    global _idle_cache
    now = time.monotonic()
    if _idle_cache is None or now - _idle_cache[0] >= IDLE_CACHE_SECONDS:
        _idle_cache = (now, idle_cpus())
    return _idle_cache[1]


# ------------------------------------------------------------------------------------------------- settings
def check_n_threads(value, name: str = "scam.settings.n_threads", automatic: str = "None (automatic)") -> int | None:
    """A valid :attr:`Settings.n_threads`: a positive integer up to the machine's CPUs, or ``None`` (automatic)."""
    if value is None:
        return None
    try:
        n = None if isinstance(value, bool) else operator.index(value)  # int, numpy integers; not 2.0 nor "2"
    except TypeError:
        n = None
    if n is None or n < 1:
        raise ValueError(
            f"`scam.settings.n_threads` must be a positive integer or None (automatic: the CPUs this process may "
            f"use, {default_n_threads()} here), got {value!r}; e.g. `scam.settings.n_threads = 1` on a busy "
            "machine, or `scam.settings.n_threads = None`."
        )
    machine = os.cpu_count() or 1
    if n > machine:  # 1,000 on 2 CPUs made a 5 s fit take 231 s; 100,000 failed inside torch / threadpoolctl
        raise ValueError(
            f"`{name}={n}` is more than the {machine} CPUs of this machine: the threads would "
            f"fight over them (a fit runs many times slower, or fails to start them). Use at most "
            f"{available_cpus()} (the CPUs this process may use), or {automatic}."
        )
    return n


def warn_oversubscribed(n: int, name: str) -> None:
    """Warn when ``n`` threads are more than the CPUs this process may use (its affinity mask, cgroup quota)."""
    usable = available_cpus()
    if n > usable:
        warnings.warn(
            f"`{name}={n}` is more than the {usable} CPUs this process may use (affinity mask, cgroup CPU quota): the "
            f"threads will fight over them and scam's torch work will run slower. Use at most {usable}, or the "
            "automatic choice.",
            UserWarning,
            stacklevel=3,
        )


class Settings:
    """scam's global settings, ``scam.settings``.

    Attributes
    ----------
    n_threads
        CPU threads of scam's torch work (training, simulation, read-outs; the caller's torch thread count
        is put back afterwards). Set a positive integer (at most the machine's CPUs, ``os.cpu_count()``; more than
        this process may use warns), or ``None`` for the automatic choice: the CPUs this
        process may use (affinity mask and cgroup CPU quota, see :func:`available_cpus`), at most
        ``OMP_NUM_THREADS`` when that is set, and at most the idle ones of them (:func:`default_n_threads`).
        Reading it gives the number in use. The worker processes of
        :func:`scam.tl.leave_one_timepoint_out` share it: each runs with ``max(1, n_threads // n_jobs)``.
    """

    def __init__(self):
        self._n_threads: int | None = None

    @property
    def n_threads(self) -> int:  # noqa: D102 (documented in the class docstring)
        return self._n_threads if self._n_threads is not None else default_n_threads()

    @n_threads.setter
    def n_threads(self, value: int | None) -> None:
        n = check_n_threads(value)
        if n is not None:
            warn_oversubscribed(n, "scam.settings.n_threads")
        self._n_threads = n

    @property
    def n_threads_is_auto(self) -> bool:
        """Whether :attr:`n_threads` is chosen automatically (set to ``None``)."""
        return self._n_threads is None

    def __repr__(self) -> str:
        how = "automatic" if self.n_threads_is_auto else "set"
        return f"scam.settings(n_threads={self.n_threads} ({how}))"


#: The one settings object, ``scam.settings``.
settings = Settings()


@contextmanager
def torch_threads(n_threads: int | None = None) -> Iterator[int]:
    """Run a block with torch using ``n_threads`` threads (default :attr:`Settings.n_threads`), then put back.

    NumPy's and SciPy's BLAS run with the same count inside the block (``threadpoolctl``). The caller's torch and
    BLAS thread counts are restored afterwards. With ``n_threads`` given, :attr:`Settings.n_threads`
    reads ``n_threads`` inside the block too (so the scam calls in it use the same count) and is put back as
    well. torch's thread count is per process: blocks running in several threads of one process share it.

    Yields
    ------
    The thread count in use.
    """
    from threadpoolctl import threadpool_limits

    n = settings.n_threads if n_threads is None else check_n_threads(n_threads)
    saved_setting, saved = settings._n_threads, torch.get_num_threads()
    if n_threads is not None:
        settings._n_threads = n
    if n != saved:
        torch.set_num_threads(n)
    try:
        # NumPy's and SciPy's BLAS (the chains' plans, the cost matrices of exact W1) at the same count, not one
        # thread per core whatever scam chose; one costs nothing on a quiet machine (EB spline path 5.1-5.4 s with
        # one BLAS thread, 5.2-5.6 s with two; docs/benchmarks/threads/results.md)
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        if n_threads is not None:
            settings._n_threads = saved_setting
        if torch.get_num_threads() != saved:
            torch.set_num_threads(saved)
