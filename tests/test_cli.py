"""The ``scam`` command line."""

import subprocess
import sys

import anndata as ad
import numpy as np

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
