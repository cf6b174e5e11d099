"""Files scam writes: nothing lost when a write fails, strict model loading, ``~`` paths (issue 12).

Each write is made to fail halfway (the writer patched to write part of its file, then raise) and the
previous file or folder must still load, byte for byte unchanged, with no temporary file left behind.
"""

from __future__ import annotations

import errno
import json
import math

import anndata as ad
import numpy as np
import pytest
import torch
from _helpers import SMALL_FIT, TINY_FIT, small_path

import scam
from scam import _io
from scam._persist import PARAMS_FILE, WEIGHTS_FILE


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _partial_torch_save(obj, f, *args, **kwargs):
    """torch.save that writes the first bytes of the file and then finds the disk full."""
    with open(f, "wb") as fh:
        fh.write(b"PK\x03\x04 partial")
    _disk_full()


def _contents(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _litter(folder) -> list[str]:
    """Temporary siblings or old folders that scam left behind."""
    return sorted(p.name for p in folder.iterdir() if _io.TMP_TAG in p.name or _io.OLD_TAG in p.name)


@pytest.fixture(scope="module")
def models():
    """Two different small models: the one saved first and the one that fails to replace it.

    The first has no growth head, so that a growth head's tensors in its weights are unexpected.
    """
    first = scam.tl.fit(small_path(), growth="none", **SMALL_FIT)
    second = scam.tl.fit(small_path(), **{**SMALL_FIT, "random_state": 1, "lam": 0.1})
    return first, second


# --------------------------------------------------------------------------------------------------- _io


def test_check_output_names_the_problem_and_the_fix(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder").mkdir()
    with pytest.raises(IsADirectoryError, match=r"a_folder is a folder; give a file path .* or choose another --out"):
        _io.check_output(tmp_path / "a_folder", kind="file", flag="--out")
    with pytest.raises(FileNotFoundError, match=r"The folder .*missing does not exist; create it first or choose"):
        _io.check_output(tmp_path / "missing" / "x.h5ad", kind="file")
    for kind in ("folder", "files_in"):
        with pytest.raises(NotADirectoryError, match=r"a_file is a file, not a folder; choose another --model-dir"):
            _io.check_output(tmp_path / "a_file", kind=kind, flag="--model-dir")
    with pytest.raises(NotADirectoryError, match=r"a_file is a file, not a folder"):
        _io.check_output(tmp_path / "a_file" / "m", kind="folder")  # a file in the way of the parents
    monkeypatch.setattr(_io.os, "access", lambda path, mode: False)  # a read-only folder (tests may run as root)
    with pytest.raises(PermissionError, match=r"Cannot write in .* \(no permission\); choose another --out"):
        _io.check_output(tmp_path / "x.h5ad", kind="file", flag="--out")
    monkeypatch.undo()
    # what is fine passes, missing parents of a folder included
    assert _io.check_output(tmp_path / "new" / "deeper", kind="folder") == tmp_path / "new" / "deeper"
    assert _io.check_output(tmp_path / "a_folder", kind="files_in") == tmp_path / "a_folder"
    assert _io.check_output(tmp_path / "a_file", kind="file") == tmp_path / "a_file"


def test_replacing_keeps_the_old_files_on_failure_and_on_ctrl_c(tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.csv"
    _io.write_text(a, "old a")
    _io.write_text(b, "old b")
    for error in (OSError, KeyboardInterrupt):
        with pytest.raises(error), _io.replacing(a, b) as (ta, tb):
            assert ta.parent == tmp_path and ta.suffix == ".md" and tb.suffix == ".csv"
            ta.write_text("new a")
            tb.write_text("half of new b")
            raise error()
        assert (a.read_text(), b.read_text()) == ("old a", "old b")
        assert _litter(tmp_path) == []
    with _io.replacing(a, b) as (ta, tb):  # both replaced together
        ta.write_text("new a")
        tb.write_text("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert _litter(tmp_path) == []


def test_replacing_folder_restores_the_old_folder_if_the_swap_fails(tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "x").write_text("old")
    real_replace, calls = _io.os.replace, []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # old folder set aside, new folder renamed in: fails
            _disk_full()
        real_replace(src, dst)

    monkeypatch.setattr(_io.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="No space"), _io.replacing_folder(folder) as new:
        (new / "x").write_text("new")
    assert (folder / "x").read_text() == "old" and _litter(tmp_path) == []


# --------------------------------------------------------------------------------------------------- model save


@pytest.mark.parametrize("where", ["weights", "params"])
def test_failed_overwrite_keeps_the_previous_model(models, tmp_path, monkeypatch, where):
    first, second = models
    path = first.save(tmp_path / "m")
    before = _contents(path)
    if where == "weights":  # model.pt written halfway
        monkeypatch.setattr(torch, "save", _partial_torch_save)
    else:  # model.pt written in full, params.json fails
        real_write_text = type(path).write_text
        monkeypatch.setattr(
            type(path),
            "write_text",
            lambda self, *a, **k: _disk_full() if self.name == PARAMS_FILE else real_write_text(self, *a, **k),
        )
    with pytest.raises(OSError, match="No space left"):
        second.save(path, overwrite=True)
    monkeypatch.undo()
    assert _contents(path) == before and _litter(tmp_path) == []
    loaded = scam.ActionModel.load(path, device="cpu")
    assert loaded.lam == first.lam and torch.equal(loaded.net.mlp[0].weight, first.net.mlp[0].weight.cpu())
    second.save(path, overwrite=True)  # the next save works and replaces it
    assert scam.ActionModel.load(path, device="cpu").lam == second.lam


def test_failed_first_save_leaves_no_folder_behind(models, tmp_path, monkeypatch):
    model, _ = models
    monkeypatch.setattr(torch, "save", _partial_torch_save)
    with pytest.raises(OSError, match="No space left"):
        model.save(tmp_path / "m")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    model.save(tmp_path / "m")  # not refused as "not a scam model folder"
    assert scam.ActionModel.load(tmp_path / "m", device="cpu").n_dims == model.n_dims


def test_overwrite_never_deletes_files_that_are_not_the_model(models, tmp_path):
    model, _ = models
    path = model.save(tmp_path / "m")
    (path / "notes.txt").write_text("mine")
    before = _contents(path)
    with pytest.raises(FileExistsError, match=r"is not a scam model folder; choose another path .*notes\.txt"):
        model.save(path, overwrite=True)
    assert _contents(path) == before


def test_save_and_load_expand_the_home_folder(models, tmp_path, monkeypatch):
    model, _ = models
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert model.save("~/m") == home / "m"
    assert sorted(p.name for p in (home / "m").iterdir()) == [WEIGHTS_FILE, PARAMS_FILE]
    assert list(cwd.iterdir()) == []  # no ./~/m
    assert scam.ActionModel.load("~/m", device="cpu").n_dims == model.n_dims


def test_save_through_a_symbolic_link_replaces_the_folder_it_points_to(models, tmp_path):
    first, second = models
    target, link = tmp_path / "store" / "m", tmp_path / "m"
    first.save(target)
    link.symlink_to(target, target_is_directory=True)
    second.save(link, overwrite=True)
    assert link.is_symlink() and link.resolve() == target.resolve()  # the link stays a link
    assert scam.ActionModel.load(target, device="cpu").lam == second.lam  # and its folder holds the new model
    assert _litter(tmp_path / "store") == [] and sorted(p.name for p in tmp_path.iterdir()) == ["m", "store"]


def test_save_into_a_file_path_names_the_fix(models, tmp_path):
    model, _ = models
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"f is a file, not a folder; choose another path"):
        model.save(tmp_path / "f")
    assert (tmp_path / "f").read_text() == "x"


# --------------------------------------------------------------------------------------------------- model load


def _set(key, value):
    def damage(params):
        params[key] = value

    return damage


def _drop(key):
    def damage(params):
        del params[key]

    return damage


def _meta(key, change):
    def damage(params):
        params["metadata"][key] = change(params["metadata"][key])

    return damage


def _center_too_long(params):
    params["center"] = [*params["center"], 0.0]


def _net(key, value):
    def damage(params):
        params["net"][key] = value

    return damage


PARAM_DAMAGE = {
    "scale-zero": (_set("scale", 0), r"`scale` must be > 0, got 0"),
    "scale-negative": (_set("scale", -1.5), r"`scale` must be > 0, got -1\.5"),
    "scale-text": (_set("scale", "1"), r"`scale` must be a finite number, got '1'"),
    "scale-bool": (_set("scale", True), r"`scale` must be a finite number, got True"),
    "t_span-zero": (_set("t_span", 0.0), r"`t_span` must be > 0, got 0\.0"),
    "t_span-nan": (_set("t_span", math.nan), r"`t_span` must be a finite number, got nan"),
    "t_origin-inf": (_set("t_origin", math.inf), r"`t_origin` must be a finite number, got inf"),
    "sigma-negative": (_set("sigma", -0.1), r"`sigma` must be >= 0"),
    "lam-none": (_set("lam", None), r"`lam` must be a finite number, got None"),
    "center-length": (_center_too_long, r"`center` has 3 values but the network has `net.n_dims` = 2"),
    "center-nan": (_set("center", [0.0, math.nan]), r"`center` must be a list of finite numbers"),
    "center-number": (_set("center", 0.0), r"`center` must be a list of finite numbers"),
    "metadata-missing": (_drop("metadata"), r"lacks \['metadata'\]"),
    "metadata-list": (_set("metadata", []), r"`metadata` must be a dict, got list"),
    "time_values-short": (
        _meta("time_values", lambda v: v[:-1]),
        r"`metadata` has 3 `time_labels` but 2 `time_values`",
    ),
    "time_labels-int": (_meta("time_labels", lambda v: 5), r"`metadata\.time_labels` must be a list of strings, got 5"),
    "time_values-text": (
        _meta("time_values", lambda v: ["a"] * len(v)),
        r"`metadata\.time_values` must be a list of finite numbers",
    ),
    "time_values-reversed": (_meta("time_values", lambda v: v[::-1]), r"`metadata\.time_values` must increase"),
    # the names the read-outs look up: a list where a column name belongs gave a TypeError deep in a read-out
    "condition_key-list": (
        _set("metadata", {"condition_key": ["a", "b"], "condition": "wt"}),
        r"`metadata\.condition_key` must be a string, got \['a', 'b'\]",
    ),
    "use_rep-number": (_set("metadata", {"use_rep": 3}), r"`metadata\.use_rep` must be a string, got 3"),
    "net-list": (_set("net", [2, 8]), r"`net` must be a dict of network settings"),
    "net-n_dims": (_net("n_dims", 0), r"`net.n_dims` must be an integer in \[1, 1048576\], got 0"),
    "net-hidden": (_net("hidden", [8, -1]), r"`net.hidden` must be a list of at most 64 integers in \[1, 1048576\]"),
    "net-giant": (_net("hidden", [10**9]), r"`net.hidden` must be a list of at most 64 integers"),
    "net-frequencies": (_net("n_frequencies", 2.0), r"`net.n_frequencies` must be an integer in \[0, 1024\]"),
    "net-extra-key": (_net("depth", 3), r"`net` must have the keys \['hidden', 'n_dims', 'n_frequencies'\]"),
    "net-quadratic": (_net("quadratic", "cubic"), r"`net.quadratic` must be one of \['full', 'diag', 'none'\]"),
    "growth_net-n_dims": (
        _set("growth_net", {"n_dims": 3, "hidden": [8], "n_frequencies": 4}),
        r"`growth_net.n_dims` \(3\) differs from `net.n_dims`",
    ),
}


@pytest.mark.parametrize(("damage", "match"), PARAM_DAMAGE.values(), ids=PARAM_DAMAGE.keys())
def test_load_checks_params_against_the_schema(models, tmp_path, damage, match):
    model, _ = models
    path = model.save(tmp_path / "m")
    params = json.loads((path / PARAMS_FILE).read_text())
    damage(params)
    (path / PARAMS_FILE).write_text(json.dumps(params))
    with pytest.raises(ValueError, match=rf"params\.json {match}.*the file is damaged: save the model again .*refit"):
        scam.ActionModel.load(path)


def _state(path):
    return torch.load(path / WEIGHTS_FILE, weights_only=True)


def _nan_weight(state):
    state["mlp.0.weight"][0, 0] = math.nan


def _wrong_shape(state):
    state["mlp.0.bias"] = torch.zeros(3)


def _extra_tensor(state):
    state["growth_net.mlp.0.weight"] = torch.zeros(8, 11)


def _integer_tensor(state):
    state["mlp.0.bias"] = state["mlp.0.bias"].long()


WEIGHT_DAMAGE = {
    "nan": (_nan_weight, r"`mlp\.0\.weight` holds non-finite values"),
    "shape": (_wrong_shape, r"`mlp\.0\.bias` has shape \(3,\), the network needs \(8,\)"),
    "extra": (_extra_tensor, r"has unexpected \['growth_net\.mlp\.0\.weight'\]"),
    "missing": (lambda state: state.pop("mlp.0.bias"), r"lacks the tensors \['mlp\.0\.bias'\]"),
    "dtype": (_integer_tensor, r"`mlp\.0\.bias` is not a floating-point tensor"),
}


@pytest.mark.parametrize(("damage", "match"), WEIGHT_DAMAGE.values(), ids=WEIGHT_DAMAGE.keys())
def test_load_checks_the_weights_against_the_network(models, tmp_path, damage, match):
    model, _ = models
    path = model.save(tmp_path / "m")
    state = _state(path)
    damage(state)
    torch.save(state, path / WEIGHTS_FILE)
    with pytest.raises(ValueError, match=rf"do not fit the network described in .*params\.json \({match}.*refit"):
        scam.ActionModel.load(path)


def test_loaded_model_is_the_saved_one_with_a_growth_head(tmp_path):
    adata = small_path()
    model = scam.tl.fit(adata, growth="free", **TINY_FIT)
    loaded = scam.ActionModel.load(model.save(tmp_path / "m"), device="cpu")
    X, t = adata.obsm["X_pca"][:5], np.full(5, 0.5)
    np.testing.assert_array_equal(loaded.growth(X, t), model.growth(X, t))
    np.testing.assert_array_equal(loaded.velocity(X, t), model.velocity(X, t))


# --------------------------------------------------------------------------------------------------- h5ad, benchmark


def _broken_write_h5ad(self, filename, *args, **kwargs):
    """AnnData.write_h5ad that writes the start of an HDF5 file, then finds the disk full."""
    with open(filename, "wb") as fh:
        fh.write(b"\x89HDF\r\n\x1a\n partial")
    _disk_full()


def test_fit_in_place_keeps_the_input_when_the_write_fails(tmp_path, monkeypatch, capsys):
    """`scam fit d.h5ad --out d.h5ad` with a full disk: d.h5ad still reads, byte for byte the same."""
    from scam.cli import main

    data = tmp_path / "d.h5ad"
    small_path().write_h5ad(data)
    before = data.read_bytes()
    monkeypatch.setattr(ad.AnnData, "write_h5ad", _broken_write_h5ad)
    args = ["fit", str(data), "--time-key", "time", "--n-iters", "2", "--quiet"]
    rc = main([*args, "--out", str(data), "--model-dir", str(tmp_path / "m")])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert rc == 1 and "No space left on device" in err and "left as they were" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert data.read_bytes() == before and ad.read_h5ad(data).n_obs == 180
    assert not (tmp_path / "m").exists() and _litter(tmp_path) == []  # the model folder was not written either


@pytest.fixture(scope="module")
def lot_table():
    adata = scam.datasets.gaussian_path(n_cells=40, times=(0.0, 1.0, 2.0, 3.0), n_dims=2)
    return scam.tl.leave_one_timepoint_out(
        adata, methods=["ot_midpoint", "previous", "next"], metrics=("w1",), progress_bar=False
    )


def test_report_files_are_replaced_together_or_not_at_all(lot_table, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from scam.benchmark.report import write_report

    paths = write_report(lot_table, tmp_path / "bench", notes="first run")
    before = _contents(tmp_path / "bench")
    assert sorted(before) == ["results.csv", "results.md", "results.png"]

    def broken_savefig(self, fname, *args, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG partial")
        _disk_full()

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="No space left"):
        write_report(lot_table.iloc[:2], tmp_path / "bench", notes="second run")
    assert _contents(tmp_path / "bench") == before
    assert "first run" in paths["md"].read_text()


def test_report_to_a_file_path_names_the_fix(lot_table, tmp_path):
    from scam.benchmark.report import write_report

    (tmp_path / "bench").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"bench is a file, not a folder; choose another path"):
        write_report(lot_table, tmp_path / "bench")
    assert (tmp_path / "bench").read_text() == "x"


def test_growth_and_scale_results_keep_the_old_files_on_failure(tmp_path, monkeypatch):
    import pandas as pd

    from scam.benchmark import growth, scale

    rows = [{"n_cells": 10, "n_dims": 2, "seconds_per_1000_steps": 1.0, "step_cost_ratio": 1.0}]
    rows[0] |= {"fit_seconds": 1.0, "peak_memory_gb": 0.1, "device": "cpu"}
    paths = scale.write_scale(rows, tmp_path, machine="a")
    before = _contents(tmp_path)
    monkeypatch.setattr(scale, "markdown", _disk_full)  # scale.json written, scale.md fails
    with pytest.raises(OSError):
        scale.write_scale([{**rows[0], "n_cells": 20}], tmp_path, machine="b")
    assert _contents(tmp_path) == before and sorted(before) == ["scale.json", "scale.md"]
    assert json.loads(paths["json"].read_text())[0]["n_cells"] == 10

    out = tmp_path / "growth"
    out.mkdir()
    (out / "results.csv").write_text("old")
    monkeypatch.setattr(growth, "markdown", _disk_full)  # csv and json written, md fails
    with pytest.raises(OSError):
        growth.write_results(pd.DataFrame({"method": ["a"]}), {"facts": 1}, out)
    assert _contents(out) == {"results.csv": b"old"}
