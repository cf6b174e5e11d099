"""The ``scam`` command line."""

import os
import re
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pytest

import scam
from scam.cli import main


def test_help_lists_fit():
    out = subprocess.run([sys.executable, "-m", "scam.cli", "--help"], capture_output=True, text=True, check=True)
    assert "fit" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "scam.cli", "fit", "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--time-key", "--use-rep", "--out", "--model-dir"):
        assert flag in out.stdout


def test_fit_file_writes_h5ad_and_model(tmp_path, capsys, monkeypatch):
    adata = scam.datasets.gaussian_path(n_cells=80, times=(0.0, 1.0, 2.0), n_dims=2)
    adata.obs["day"] = adata.obs["time"] * 3
    path = tmp_path / "course.h5ad"
    adata.write_h5ad(path)
    monkeypatch.chdir(tmp_path)
    args = ["fit", str(path), "--time-key", "day", "--n-iters", "20", "--quiet", "--out", "fitted.h5ad"]
    rc = main([*args, "--model-dir", "m"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "fitted.h5ad" in out and "fit time" in out and "validation" in out
    # three snapshots leave nothing to leave out: the automatic σ is 0, and the summary says how it was chosen
    assert "path        spline, spline bend 0.5; sigma 0 (chosen by leave-one-snapshot-out)" in out
    fitted = ad.read_h5ad(tmp_path / "fitted.h5ad")
    assert fitted.obsm["scam_velocity"].shape == (240, 2)
    assert list(fitted.uns["scam"]["time"]["values"]) == [0.0, 3.0, 6.0]
    model = scam.ActionModel.load(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(
        model.velocity(fitted.obsm["X_pca"], fitted.obs["day"].to_numpy()),
        fitted.obsm["scam_velocity"],
        rtol=1e-5,
        atol=1e-6,
    )
    # default output names next to the working directory; a rerun replaces the model folder
    assert main(["fit", str(path), "--time-key", "day", "--n-iters", "5", "--quiet"]) == 0
    assert main(["fit", str(path), "--time-key", "day", "--n-iters", "5", "--quiet"]) == 0
    assert (tmp_path / "course_scam.h5ad").is_file() and (tmp_path / "course_scam_model" / "params.json").is_file()


def test_fit_reports_bad_input(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.h5ad"), "--time-key", "day"]) == 2
    assert "no such file" in capsys.readouterr().err
    adata = scam.datasets.gaussian_path(n_cells=30, times=(0.0, 1.0), n_dims=2)
    adata.write_h5ad(tmp_path / "a.h5ad")
    assert main(["fit", str(tmp_path / "a.h5ad")]) == 2
    assert "--time-key is required" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "a.h5ad"), "--time-key", "nope", "--model-dir", str(tmp_path / "m")]) == 2
    assert "Available columns" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["fit", str(tmp_path / "a.h5ad"), "--time-key", "time", "--model-dir", str(tmp_path / "busy")]) == 2
    assert "not a scam model folder" in capsys.readouterr().err


def test_benchmark_command_writes_report(tmp_path, capsys):
    adata = scam.datasets.gaussian_path(n_cells=60, times=(0.0, 1.0, 2.0, 3.0), n_dims=2)
    adata.write_h5ad(tmp_path / "c.h5ad")
    out = tmp_path / "bench"
    rc = main(
        [
            "benchmark",
            "--data",
            str(tmp_path / "c.h5ad"),
            "--time-key",
            "time",
            "--quick",
            "--methods",
            "scam",
            "ot_midpoint",
            "previous",
            "next",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "ot_midpoint" in printed and "| method |" in printed
    for name in ("results.csv", "results.md", "results.png"):
        assert (out / name).is_file()
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    assert set(df["method"]) == {"scam", "ot_midpoint", "previous", "next"} and set(df["held_out"]) == {1, 2}
    assert main(["benchmark", "--data", str(tmp_path / "missing.h5ad")]) == 2


def test_benchmark_scale_small(tmp_path, capsys):
    rc = main(["benchmark", "scale", "--sizes", "400", "800", "--quick", "--out", str(tmp_path)])
    assert rc == 0
    import json

    rows = json.loads((tmp_path / "scale.json").read_text())
    assert [r["n_cells"] for r in rows] == [400, 800]
    assert all(r["peak_memory_gb"] > 0 and r["seconds_per_1000_steps"] > 0 for r in rows)
    assert rows[0]["step_cost_ratio"] == 1.0
    assert all((r["gpu_peak_memory_gb"] is None) == (r["device"] == "cpu") for r in rows)  # GPU memory on CUDA only


# --------------------------------------------------------------------------------------------------- issue 12
# Ctrl-C, exit codes, one-line errors, output paths checked before any training.


def _one_line(err: str) -> str:
    """The single line a user error prints (no traceback, no usage block)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _no_fit(*args, **kwargs):
    raise AssertionError("the command trained although its outputs cannot be written")


@pytest.fixture
def course(tmp_path):
    """A small time course on disk, and the outputs of an earlier good run next to it."""
    path = tmp_path / "course.h5ad"
    scam.datasets.gaussian_path(n_cells=40, times=(0.0, 1.0, 2.0), n_dims=2).write_h5ad(path)
    args = ["fit", str(path), "--time-key", "time", "--n-iters", "3", "--quiet"]
    out, model_dir = tmp_path / "fitted.h5ad", tmp_path / "m"
    assert main([*args, "--out", str(out), "--model-dir", str(model_dir)]) == 0
    return path, args, out, model_dir


def _files(*paths) -> dict:
    return {
        p.name: {q.name: q.read_bytes() for q in p.iterdir()} if p.is_dir() else p.read_bytes()
        for p in paths
        if p.exists()
    }


def test_ctrl_c_exits_130_and_keeps_the_earlier_outputs(course, monkeypatch, capsys):
    path, args, out, model_dir = course
    before = _files(out, model_dir)
    capsys.readouterr()

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(scam.tl, "fit", interrupted)
    try:
        rc = main([*args, "--out", str(out), "--model-dir", str(model_dir)])
    except KeyboardInterrupt:  # would stop the whole test session
        pytest.fail("Ctrl-C escaped scam.cli.main")
    assert rc == 130
    err = capsys.readouterr().err
    assert "interrupted (Ctrl-C); no output was written" in _one_line(err)
    assert _files(out, model_dir) == before


def test_interrupted_fit_saves_the_best_model_aside(course, monkeypatch, capsys):
    """The trainer keeps the best model on Ctrl-C and returns: exit 130, the earlier run's outputs untouched."""
    path, args, out, model_dir = course
    before = _files(out, model_dir)
    capsys.readouterr()
    real_fit = scam.tl.fit

    def fit_interrupted(adata, *a, **k):
        model = real_fit(adata, *a, **k)
        adata.uns["scam"]["training"]["interrupted"] = True
        return model

    monkeypatch.setattr(scam.tl, "fit", fit_interrupted)
    assert main([*args, "--out", str(out), "--model-dir", str(model_dir)]) == 130
    line = _one_line(capsys.readouterr().err)
    aside = model_dir.with_name("m.interrupted")
    assert f"is in {aside}" in line and "were not written" in line
    assert _files(out, model_dir) == before
    assert scam.ActionModel.load(aside, device="cpu").n_dims == 2


def test_output_paths_are_checked_before_training(course, tmp_path, monkeypatch, capsys):
    path, args, out, model_dir = course
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "res").mkdir()
    monkeypatch.setattr(scam.tl, "fit", _no_fit)
    monkeypatch.setattr(scam.tl, "leave_one_timepoint_out", _no_fit)
    capsys.readouterr()
    cases = [
        (
            [*args, "--out", str(tmp_path / "missing" / "o.h5ad")],
            r"missing does not exist; create it first or choose another --out",
        ),
        ([*args, "--out", str(tmp_path)], r"is a folder; give a file path"),
        (
            [*args, "--out", str(out), "--model-dir", str(tmp_path / "a_file")],
            r"a_file is a file, not a folder; choose another --model-dir",
        ),
        ([*args, "--model-dir", str(tmp_path / "a_file" / "m")], r"a_file is a file, not a folder"),
        (  # the folder is replaced as a whole: the .h5ad written into it was lost after a whole fit
            [*args, "--model-dir", str(tmp_path / "res"), "--out", str(tmp_path / "res" / "o.h5ad")],
            r"--out .*o.h5ad lies inside --model-dir .*res, which is replaced as a whole.*e.g. --out .*o.h5ad",
        ),
        (
            ["benchmark", "--data", str(path), "--time-key", "time", "--out", str(tmp_path / "a_file")],
            r"a_file is a file, not a folder; choose another --out",
        ),
        (["benchmark", "scale", "--out", str(tmp_path / "a_file")], r"a_file is a file, not a folder"),
        (["benchmark", "growth", "--out", str(tmp_path / "a_file")], r"a_file is a file, not a folder"),
    ]
    for argv, match in cases:
        assert main(argv) == 2, argv
        assert re.search(match, _one_line(capsys.readouterr().err)), argv
    # a read-only output folder (simulated: the tests may run as root, who may write anywhere)
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    assert main([*args, "--out", str(out), "--model-dir", str(model_dir)]) == 2
    assert "(no permission); choose another --out in a folder you can write to" in _one_line(capsys.readouterr().err)
    assert (tmp_path / "a_file").read_text() == "x"


def test_user_errors_are_one_line_with_exit_code_2(course, tmp_path, capsys):
    path, args, out, model_dir = course
    (tmp_path / "notes.h5ad").write_text("not an h5ad file")
    capsys.readouterr()
    cases = [
        (
            ["fit", str(tmp_path / "notes.h5ad"), "--time-key", "time"],
            r"cannot read .*notes\.h5ad as an \.h5ad file .*give an AnnData file written by `adata.write_h5ad`",
        ),
        (
            ["benchmark", "--data", str(tmp_path / "notes.h5ad"), "--time-key", "t"],
            r"cannot read .*notes\.h5ad as an \.h5ad file",
        ),
        (["benchmark", "--data", str(path)], r"--time-key is required with --data FILE"),
        (
            [*args, "--n-iters", "many"],
            r"^scam fit: argument --n-iters: invalid int value: 'many' \(see `scam fit --help`\)$",
        ),
        (["fit", str(path), "--growth", "sideways"], r"argument --growth: invalid choice: 'sideways'"),
        (["benchmark", "suite-of-nothing"], r"^scam benchmark: argument what: invalid choice"),
        (["fitt"], r"^scam: argument COMMAND: invalid choice: 'fitt'"),
        ([*args, "--n-iters", "-4", "--out", str(out), "--model-dir", str(model_dir)], r"^scam fit: .*n_iters"),
        (  # a fit that diverges: one line naming the settings to change, not a traceback
            [*args, "--lam", "1e308", "--out", str(out), "--model-dir", str(model_dir)],
            r"^scam fit: Training diverged at iteration \d+: .*Lower the learning rate",
        ),
    ]
    before = _files(out, model_dir)
    for argv, match in cases:
        assert main(argv) == 2, argv
        assert re.search(match, _one_line(capsys.readouterr().err)), argv
    assert _files(out, model_dir) == before


def test_not_an_h5ad_in_a_real_process(tmp_path):
    (tmp_path / "x.h5ad").write_text("plain text")
    cmd = [sys.executable, "-m", "scam.cli", "fit", str(tmp_path / "x.h5ad"), "--time-key", "t"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert "cannot read" in _one_line(result.stderr)


def test_paths_expand_the_home_folder(tmp_path, monkeypatch, capsys):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    small = scam.datasets.gaussian_path(n_cells=40, times=(0.0, 1.0, 2.0), n_dims=2)
    small.write_h5ad(home / "c.h5ad")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    argv = ["fit", "~/c.h5ad", "--time-key", "time", "--n-iters", "3", "--quiet", "--out", "~/f.h5ad"]
    assert main([*argv, "--model-dir", "~/m"]) == 0
    assert ad.read_h5ad(home / "f.h5ad").n_obs == 120 and (home / "m" / "params.json").is_file()
    assert list(cwd.iterdir()) == []
    assert str(home / "m") in capsys.readouterr().out


# --------------------------------------------------------------------------------------------------- issue 15
# scam --version, scam fit --key-added/--curvature/numeric --masses, one time key for the bundled data.

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version\s*=\s*"([^"]+)"', project, re.M).group(1)


def test_version_matches_pyproject():
    assert scam.__version__ == _pyproject_version()


def test_version_flag_prints_the_distribution_version(monkeypatch, capsys):
    import importlib.metadata

    from scam import _version

    asked = []

    def version(name):
        asked.append(name)
        return "9.8.7"

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "scam 9.8.7\n"
    assert asked == [_version.DISTRIBUTION] and _version.DISTRIBUTION != "scam"  # `scam` is another project

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"scam {scam.__version__}\n"


def test_version_flag_in_a_real_process():
    out = subprocess.run([sys.executable, "-m", "scam.cli", "--version"], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"scam \d+\.\d+\.\d+\S*\n", out.stdout), out.stdout


def test_fit_key_added_curvature_and_numeric_masses(course, tmp_path, capsys):
    path, args, out, model_dir = course
    argv = [*args, "--out", str(tmp_path / "k.h5ad"), "--model-dir", str(tmp_path / "k")]
    argv += ["--key-added", "am", "--curvature", "0.25", "--masses", "1", "1.5", "2.25"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "obsm 'am_velocity'" in printed and "uns 'am'" in printed
    fitted = ad.read_h5ad(tmp_path / "k.h5ad")
    assert "am_velocity" in fitted.obsm and "am_growth" in fitted.obs and "scam" not in fitted.uns
    assert "scam_velocity" not in fitted.obsm
    assert fitted.uns["am"]["params"]["spline_curvature"] == 0.25
    np.testing.assert_allclose(fitted.uns["am"]["masses"], [1.0, 1.5, 2.25])
    # the words still work; 'auto' is the default curvature
    argv = [*args, "--out", str(tmp_path / "w.h5ad"), "--model-dir", str(tmp_path / "w"), "--masses", "counts"]
    assert main([*argv, "--curvature", "auto"]) == 0
    fitted = ad.read_h5ad(tmp_path / "w.h5ad")
    np.testing.assert_allclose(fitted.uns["scam"]["masses"], [1.0, 1.0, 1.0])  # 40 cells at each time
    assert fitted.uns["scam"]["params"]["curvature"] == "auto"


def test_fit_growth_prior_masses_from_a_column_named_on_the_command_line(course, tmp_path, capsys):
    """The fix that the missing-prior error names (``growth_prior_key``) exists on the command line too."""
    path, args, out, model_dir = course
    adata = ad.read_h5ad(path)
    adata.obs["my_rates"] = 0.4  # every cell grows at 0.4 per unit time: masses 1, e^0.4, e^0.8
    adata.write_h5ad(path)
    argv = [*args, "--out", str(tmp_path / "p.h5ad"), "--model-dir", str(tmp_path / "p"), "--masses", "growth_prior"]
    assert main(argv) == 2
    assert "growth_prior_key" in capsys.readouterr().err
    assert main([*argv, "--growth-prior-key", "my_rates"]) == 0
    fitted = ad.read_h5ad(tmp_path / "p.h5ad")
    np.testing.assert_allclose(fitted.uns["scam"]["masses"], np.exp([0.0, 0.4, 0.8]), rtol=1e-6)
    assert fitted.uns["scam"]["params"]["growth_prior_key"] == "my_rates"


def test_fit_rejects_bad_curvature_and_masses_in_one_line(course, capsys):
    path, args, out, model_dir = course
    before = _files(out, model_dir)
    capsys.readouterr()
    cases = [
        (["--curvature", "1.5"], r"argument --curvature: must be 'auto' or a number in \[0, 1\], got '1.5'"),
        (["--curvature", "bent"], r"argument --curvature: must be 'auto' or a number in \[0, 1\]"),
        (["--curvature", "nan"], r"argument --curvature: must be 'auto'"),
        (["--sigma", "-1"], r"argument --sigma: must be 'auto' or a finite number >= 0, got '-1'"),
        (["--sigma", "inf"], r"argument --sigma: must be 'auto' or a finite number >= 0"),
        (["--sigma", "noisy"], r"argument --sigma: must be 'auto' or a finite number >= 0"),
        (["--masses", "1", "x", "2"], r"argument --masses: expected 'counts' or 'growth_prior', or one number per"),
        (["--masses", "sideways"], r"argument --masses: expected 'counts' or 'growth_prior'"),
        (["--masses", "1", "2", "3", "x.h5ad"], r"got '1 2 3 x.h5ad'; give the input file before --masses"),
        (["--masses", "1", "2"], r"`masses` has 2 values but there are 3 time points"),
        (["--masses", "1", "0", "2"], r"`masses` must be positive"),
        (["--key-added", "bad key/"], r"key_added"),
    ]
    for extra, match in cases:
        argv = [*args, *extra, "--out", str(out), "--model-dir", str(model_dir)]
        assert main(argv) == 2, extra
        assert re.search(match, _one_line(capsys.readouterr().err)), extra
    assert _files(out, model_dir) == before


def test_bundled_data_has_one_time_key_in_fit_and_benchmark(tmp_path, monkeypatch, capsys):
    from scam.cli._common import EB_TIME_KEY

    seen = {}

    def fit(adata, time_key, **kwargs):
        seen["fit"] = time_key
        raise ValueError("stop before training")

    def lot(adata, time_key, **kwargs):
        seen["benchmark"] = time_key
        raise ValueError("stop before training")

    monkeypatch.setattr(scam.tl, "fit", fit)
    monkeypatch.setattr(scam.tl, "leave_one_timepoint_out", lot)
    monkeypatch.chdir(tmp_path)
    assert main(["fit"]) == 2
    assert main(["benchmark", "--out", str(tmp_path / "b")]) == 2
    assert seen == {"fit": EB_TIME_KEY, "benchmark": EB_TIME_KEY}
    eb = scam.datasets.embryoid_body()
    assert EB_TIME_KEY in eb.obs
    # the other column orders the same cells the same way, with the same values
    from scam._time import get_time

    named, numbered = get_time(eb, EB_TIME_KEY), get_time(eb, "time")
    np.testing.assert_array_equal(named.values, numbered.values)
    np.testing.assert_array_equal(named.codes, numbered.codes)


# --------------------------------------------------------------------------------------------------- issue 14
def test_threads_option_applies_to_the_fit_and_is_put_back(course, monkeypatch, capsys):
    import torch

    import scam.trainer

    path, args, out, model_dir = course
    seen, real = [], scam.trainer.train_action

    def spy(*a, **k):
        seen.append((torch.get_num_threads(), scam.settings.n_threads))
        return real(*a, **k)

    monkeypatch.setattr(scam.trainer, "train_action", spy)
    monkeypatch.setattr(scam._settings.os, "cpu_count", lambda: 8)  # 2 threads are allowed on a 1-CPU machine too
    threads, setting = torch.get_num_threads(), scam.settings.n_threads
    assert main([*args, "--threads", "2", "--out", str(out), "--model-dir", str(model_dir)]) == 0
    assert seen == [(2, 2)] and "(2 torch thread(s))" in capsys.readouterr().out
    assert torch.get_num_threads() == threads and scam.settings.n_threads == setting


def test_threads_and_scheduler_errors_are_one_line(course, tmp_path, monkeypatch, capsys):
    path, args, out, model_dir = course
    monkeypatch.setattr(scam.tl, "fit", _no_fit)
    capsys.readouterr()
    cases = [
        ([*args, "--threads", "0"], r"^scam fit: --threads must be a positive integer, got 0"),
        (["benchmark", "--threads", "-1", "--out", str(tmp_path / "b")], r"--threads must be a positive integer"),
        (
            [*args, "--threads", str((os.cpu_count() or 1) + 1)],
            r"^scam fit: `--threads=\d+` is more than the \d+ CPUs of this machine.*leave it out",
        ),
        (
            ["benchmark", "scale", "--sizes", "3", "--out", str(tmp_path / "b")],
            r"sizes must be cell counts of at least 40",
        ),
        (
            ["benchmark", "scale", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "b")],
            r"--scheduler applies to 'lot' and 'suite', not 'scale'",
        ),
    ]
    for argv, match in cases:
        assert main(argv) == 2, argv
        assert re.search(match, _one_line(capsys.readouterr().err)), argv
