"""The tutorials in ``tutorials/``: each one runs (quick mode) and is committed with a title and its outputs.

Every notebook is executed top to bottom with nbclient under ``SCAM_TUTORIAL_QUICK=1`` (its first
code cell then picks small settings), so an API change that breaks a tutorial fails here, with the
failing cell's error. The committed notebooks are checked for what the documentation renders
(myst-nb, never executing them): a top-level ``# `` title and the outputs of a full, in-order run.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
#: Seconds a single cell may run in quick mode (a fit there takes a few seconds on 2 cores).
CELL_TIMEOUT = 600
#: Size limit of a committed notebook (figures are PNGs at modest dpi).
MAX_BYTES = 1_500_000
#: Terminal colour codes in IPython tracebacks.
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _id(path: Path) -> str:
    return path.stem


def test_the_three_tutorials_exist():
    names = [p.name for p in NOTEBOOKS]
    for expected in ("01_embryoid_body.ipynb", "02_growth.ipynb", "03_scanpy_workflow.ipynb"):
        assert expected in names, f"tutorials/{expected} is missing (found {names})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_with_title_and_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 1e6:.2f} MB"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        f"{path.name}: the first cell must be a Markdown title '# ...' (the docs take the page title from it)"
    )
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code, f"{path.name} has no code"
    # outputs of one full run, in order: execution counts 1, 2, 3, ... and no errors
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom (counts {counts})"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: committed with an error output: {errors[0].get('ename')}"
    assert any(c.outputs for c in code), f"{path.name}: committed without outputs"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: committed without figures"
    # quick mode is read in the first code cell, and the committed outputs come from the full run
    assert "SCAM_TUTORIAL_QUICK" in code[0].source, f"{path.name}: the first code cell must read SCAM_TUTORIAL_QUICK"
    printed = "".join(o.get("text", "") for o in code[0].outputs if o.output_type == "stream")
    assert "quick mode: False" in printed, f"{path.name}: committed outputs must come from a full (non-quick) run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_runs_in_quick_mode(path, monkeypatch):
    monkeypatch.setenv("SCAM_TUTORIAL_QUICK", "1")  # the kernel inherits the environment
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # one thread, as the suite (conftest.py); scam reads it
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(TUTORIALS)}}
    )
    failure = None
    try:
        client.execute()
    except CellExecutionError as err:  # names the cell and carries its traceback
        failure = ANSI.sub("", str(err))
    if failure is not None:
        pytest.fail(f"{path.name} failed in quick mode:\n{failure}", pytrace=False)
    code = [c for c in nb.cells if c.cell_type == "code"]
    printed = "".join(o.get("text", "") for o in code[0].outputs if o.output_type == "stream")
    assert "quick mode: True" in printed
