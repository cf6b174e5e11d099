"""``scam.settings.n_threads``: the CPUs this process may use (affinity, cgroup quota), validation, restoring."""

import os
import warnings

import numpy as np
import pytest
import torch
from _helpers import TINY_FIT, small_path

import scam
from scam import _settings
from scam._settings import (
    available_cpus,
    cgroup_cpu_limit,
    default_n_threads,
    parse_cfs,
    parse_cpu_max,
    torch_threads,
)


@pytest.fixture(autouse=True)
def _keep_settings():
    """Every test leaves scam.settings and torch's thread count as the session had them."""
    saved, threads = scam.settings._n_threads, torch.get_num_threads()
    yield
    scam.settings._n_threads = saved
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------- cgroup files
@pytest.mark.parametrize(
    ("text", "cpus"),
    [("max 100000\n", None), ("max\n", None), ("150000 100000\n", 2), ("100000 100000", 1), ("50000 100000", 1)],
)
def test_cpu_max(text, cpus):
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize(
    ("quota", "period", "cpus"), [("-1\n", "100000\n", None), ("150000", "100000", 2), ("400000", "100000", 4)]
)
def test_cfs_quota(quota, period, cpus):
    assert parse_cfs(quota, period) == cpus


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_of_the_cgroup_or_a_parent(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    _write(proc, "0::/user.slice/job.scope\n")
    _write(root / "user.slice" / "job.scope" / "cpu.max", "max 100000\n")  # unlimited itself ...
    assert cgroup_cpu_limit(root, proc) is None
    _write(root / "user.slice" / "cpu.max", "150000 100000\n")  # ... but its parent has 1.5 CPUs
    assert cgroup_cpu_limit(root, proc) == 2
    _write(root / "user.slice" / "job.scope" / "cpu.max", "100000 100000\n")  # the smallest quota wins
    assert cgroup_cpu_limit(root, proc) == 1


def test_cgroup_v2_in_a_container_reads_the_root(tmp_path):
    """Inside a container /proc/self/cgroup names a host path that is not mounted; the root's file counts."""
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    _write(proc, "0::/kubepods/pod123/abc\n")
    _write(root / "cpu.max", "250000 100000\n")
    assert cgroup_cpu_limit(root, proc) == 3


def test_cgroup_v1_quota(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    _write(proc, "4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n0::/\n")
    folder = root / "cpu,cpuacct" / "docker" / "x"
    _write(folder / "cpu.cfs_quota_us", "-1\n")
    _write(folder / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(root, proc) is None
    _write(folder / "cpu.cfs_quota_us", "150000\n")
    assert cgroup_cpu_limit(root, proc) == 2


def test_no_cgroup_files_or_garbage_limit_nothing(tmp_path):
    assert cgroup_cpu_limit(tmp_path / "nothing", tmp_path / "no_proc_file") is None
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    _write(proc, "0::/\n")
    _write(root / "cpu.max", "lots of cpus\n")
    assert cgroup_cpu_limit(root, proc) is None


def test_available_cpus_is_the_affinity_capped_by_the_quota(tmp_path, monkeypatch):
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    _write(proc, "0::/\n")
    _write(root / "cpu.max", "max 100000\n")
    monkeypatch.setattr(_settings, "CGROUP_ROOT", root)
    monkeypatch.setattr(_settings, "PROC_CGROUP", proc)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cpus() == 6  # the affinity mask, not the node's 64 cores
    _write(root / "cpu.max", "150000 100000\n")
    assert available_cpus() == 2  # the quota is tighter
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS, Windows
    _write(root / "cpu.max", "max 100000\n")
    assert available_cpus() == 64
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_n_threads() == 3  # OMP_NUM_THREADS caps the automatic choice
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert default_n_threads() == 64


@pytest.fixture(autouse=True)
def _quiet_machine(monkeypatch):
    """Tests of the CPU count see an idle machine, whatever else runs here (the idle check has its own test)."""
    monkeypatch.setattr(scam._settings, "_recent_idle_cpus", lambda: None)


STAT_BEFORE = "cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0 0 0\nintr 1 2\n"


@pytest.mark.parametrize(
    ("after", "cpus", "idle"),
    [
        ("cpu0 5 0 5 140 0 0 0 0 0 0\ncpu1 5 0 5 140 0 0 0 0 0 0\n", None, 2.0),  # quiet
        ("cpu0 105 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 140 0 0 0 0 0 0\n", None, 1.0),  # one core busy
        ("cpu0 105 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 140 0 0 0 0 0 0\n", {0}, 0.0),  # ... and it is ours
        ("cpu0 55 0 5 70 20 0 0 0 0 0\ncpu1 95 0 15 40 0 0 0 0 0 0\n", None, 0.5),  # iowait counts as idle
        ("", None, None),
        ("cpu0 garbage\n", None, None),
    ],
)
def test_idle_cpus_from_two_readings_of_proc_stat(after, cpus, idle):
    from scam._settings import idle_from_stats

    got = idle_from_stats(STAT_BEFORE, after, cpus)
    assert got == (None if idle is None else pytest.approx(idle))


def test_busy_cores_cut_the_automatic_thread_count(monkeypatch):
    """Beside busy processes the automatic choice drops to the free cores (at least 1), never above the CPUs."""
    from scam._settings import default_n_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(scam._settings, "available_cpus", lambda: 4)
    for idle, expected in ((None, 4), (3.9, 4), (2.6, 3), (1.2, 1), (0.0, 1), (16.0, 4)):
        monkeypatch.setattr(scam._settings, "_recent_idle_cpus", lambda idle=idle: idle)
        assert default_n_threads() == expected, idle


# ---------------------------------------------------------------------------------------------- the setting
def test_n_threads_setting(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(scam._settings.os, "cpu_count", lambda: 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # more than the CPUs it may use, where it has fewer than 3
        scam.settings.n_threads = 3
    assert scam.settings.n_threads == 3 and not scam.settings.n_threads_is_auto
    scam.settings.n_threads = np.int64(2)
    assert scam.settings.n_threads == 2 and type(scam.settings.n_threads) is int
    scam.settings.n_threads = None
    assert scam.settings.n_threads == available_cpus() and scam.settings.n_threads_is_auto
    assert "automatic" in repr(scam.settings)


@pytest.mark.parametrize("bad", [0, -2, 2.0, 1.5, "4", True])
def test_n_threads_must_be_a_positive_integer_or_none(bad):
    scam.settings.n_threads = 1
    with pytest.raises(ValueError, match=r"positive integer or None.*scam.settings.n_threads = 1"):
        scam.settings.n_threads = bad
    assert scam.settings.n_threads == 1  # unchanged


def test_more_threads_than_cpus_warn_and_more_than_the_machine_has_are_refused(monkeypatch):
    """1,000 threads on 2 CPUs made a 5 s fit take 231 s, and 100,000 failed deep inside threadpoolctl."""
    monkeypatch.setattr(scam._settings.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(scam._settings, "available_cpus", lambda: 2)
    scam.settings.n_threads = 1
    with pytest.raises(ValueError, match=r"`scam.settings.n_threads=9` is more than the 8 CPUs.*at most 2.*None"):
        scam.settings.n_threads = 9
    assert scam.settings.n_threads == 1
    with pytest.raises(ValueError, match=r"more than the 8 CPUs"), torch_threads(100_000):
        pass
    with pytest.warns(UserWarning, match=r"`scam.settings.n_threads=3` is more than the 2 CPUs this process may use"):
        scam.settings.n_threads = 3
    assert scam.settings.n_threads == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scam.settings.n_threads = 2


def test_torch_threads_puts_back_the_callers_count_and_the_setting(monkeypatch):
    monkeypatch.setattr(scam._settings.os, "cpu_count", lambda: 8)
    torch.set_num_threads(2)
    scam.settings.n_threads = 1
    with torch_threads() as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with torch_threads(3):  # an explicit count is also what scam calls inside the block see
        assert torch.get_num_threads() == 3 and scam.settings.n_threads == 3
        with torch_threads():
            assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == 2 and scam.settings.n_threads == 1
    with pytest.raises(RuntimeError), torch_threads():
        raise RuntimeError("a failing fit")
    assert torch.get_num_threads() == 2


def test_torch_threads_also_caps_numpys_blas_and_puts_it_back():
    """NumPy's BLAS (the chains' plans) runs at scam's count inside the block, so its threads do not spin beside busy
    processes; the count it had is put back after the block, also when the block fails."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):  # the caller's count
        before = blas_threads()
        if not before or set(before.values()) != {2}:
            pytest.skip("NumPy's BLAS here does not run two threads")
        with torch_threads(1):
            assert set(blas_threads().values()) == {1}
        assert blas_threads() == before
        with pytest.raises(RuntimeError), torch_threads(1):
            raise RuntimeError("a failing fit")
        assert blas_threads() == before


def test_fit_and_simulate_use_the_setting_and_restore_torch(monkeypatch):
    import scam.trainer

    seen = []
    real = scam.trainer.train_action

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(scam.trainer, "train_action", spy)
    monkeypatch.setattr(scam._settings.os, "cpu_count", lambda: 8)
    torch.set_num_threads(3)  # the caller's count
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # more than the CPUs it may use, on a 1-CPU machine
        scam.settings.n_threads = 2
    adata = small_path()
    model = scam.tl.fit(adata, "time", **TINY_FIT)
    assert seen == [2] and torch.get_num_threads() == 3
    model.simulate(adata.obsm["X_pca"][:5], 0.0, 1.0, n_steps=2)
    assert torch.get_num_threads() == 3
