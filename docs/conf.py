"""Sphinx configuration of the scam documentation.

The build is offline: no intersphinx, nothing fetched. Two things are generated at start (both
git-ignored, both rebuilt from scratch on every build):

* ``tutorials/``: a copy of the notebooks in the repository's top-level ``tutorials/`` folder
  (Sphinx reads nothing outside its source folder); myst-nb renders them with their committed
  outputs, never executing them.
* ``api/``: the API reference, one autosummary entry for every name in each namespace's
  ``__all__``, so a new public function appears without editing the docs.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import scam  # noqa: E402

# -- project -------------------------------------------------------------------------------------
project = "scam"
author = "scam developers"
copyright = "2026, scam developers"  # noqa: A001
version = release = scam.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "benchmarks/**",  # benchmark outputs are included into benchmarks.md, not pages of their own
    "Thumbs.db",
    ".DS_Store",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
suppress_warnings = [
    "mystnb.unknown_mime_type",  # widget outputs (tqdm progress bars) in committed notebooks
]

# -- MyST / myst-nb -----------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist", "substitution"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are rendered with their committed outputs
nb_merge_streams = True

# -- autodoc / autosummary / napoleon -----------------------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = True

# -- HTML ---------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "scam"
html_theme_options = {"show_toc_level": 2}
html_static_path = ["_static"] if (HERE / "_static").is_dir() else []

# The landing page's picture: the EB trajectories figure (docs/make_figures.py) once it exists,
# else the benchmark chart.
if (HERE / "_static" / "eb_trajectories.png").is_file():
    _landing = (
        "_static/eb_trajectories.png",
        "Paths of Embryoid Body cells simulated by scam from the first time point, on the first two PCs",
        "Cells of the Embryoid Body time course (dots, coloured by day) and paths simulated by the fitted model"
        " from cells of the first time point (black), coloured by simulated time (`docs/make_figures.py`).",
    )
else:
    _landing = (
        "benchmarks/eb/results.png",
        "Leave-one-timepoint-out W1 on the Embryoid Body data: scam against OT baselines and published methods",
        "Held-out time points of the Embryoid Body data predicted by scam and its peers (lower is better;"
        " see [the benchmark](benchmarks.md)).",
    )
myst_substitutions = {
    "landing_figure": f"```{{image}} {_landing[0]}\n:alt: {_landing[1]}\n:width: 100%\n```\n\n*{_landing[2]}*"
}


# -- tutorials: copy ../tutorials/*.ipynb (and the images they link) into docs/tutorials/ ---------
def _copy_tutorials() -> list[str]:
    src, dst = ROOT / "tutorials", HERE / "tutorials"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    notebooks = sorted(src.glob("*.ipynb")) if src.is_dir() else []
    assets = [p for ext in ("png", "jpg", "jpeg", "svg", "gif") for p in src.glob(f"*.{ext}")] if src.is_dir() else []
    for path in [*notebooks, *assets]:
        shutil.copy2(path, dst / path.name)
    if not notebooks:  # the glob in tutorials.md must match something, or -W fails the build
        (dst / "none.md").write_text(
            "# No tutorials yet\n\nNotebooks committed to the repository's `tutorials/` folder appear here.\n"
        )
    return [p.name for p in notebooks]


# -- API reference: generated from each namespace's __all__ --------------------------------------
#: (module, section title, callables only). Each section lists every non-module name of ``__all__``.
API_SECTIONS = [
    ("scam.pp", "Preprocessing: ``scam.pp``", False),
    ("scam.tl", "Tools: ``scam.tl``", False),
    ("scam.pl", "Plotting: ``scam.pl``", False),
    ("scam.datasets", "Datasets: ``scam.datasets``", False),
    ("scam", "The model and settings: ``scam.ActionModel``, ``scam.settings``", False),
    ("scam.benchmark", "Benchmark harness: ``scam.benchmark``", True),
    ("scam.lot.baselines", "Benchmark baselines: ``scam.lot.baselines``", True),
    ("scam.trainer", "Trainer (arrays in, ActionModel out): ``scam.trainer``", True),
    ("scam.core", "Core (pure torch, for developers): ``scam.core``", True),
]


def _public_names(module_name: str, callables_only: bool) -> list[str]:
    mod = importlib.import_module(module_name)
    names = getattr(mod, "__all__", None)
    if names is None:  # a module without __all__: its public functions defined there
        names = [
            n
            for n, obj in vars(mod).items()
            if not n.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module_name
        ]
    out = []
    for name in names:
        obj = getattr(mod, name)
        if inspect.ismodule(obj) or (callables_only and not callable(obj)):
            continue
        out.append(name)
    return out


def _write_api() -> None:
    api = HERE / "api"
    if api.exists():
        shutil.rmtree(api)  # stale stubs of removed functions would break -W
    api.mkdir()
    lines = [
        "API reference",
        "=============",
        "",
        "Import scam as ``import scam``; the namespaces follow scanpy: ``scam.pp`` (preprocessing),",
        "``scam.tl`` (tools), ``scam.pl`` (plotting), ``scam.datasets``. This page is generated from each",
        "namespace's ``__all__``.",
        "",
    ]
    for module_name, title, callables_only in API_SECTIONS:
        names = _public_names(module_name, callables_only)
        lines += [title, "-" * len(title), ""]
        if module_name != "scam":
            lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
        if not names:
            lines += ["No public functions yet.", ""]
            continue
        lines += [
            f".. currentmodule:: {module_name}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {name}" for name in names]
        lines.append("")
    (api / "index.rst").write_text("\n".join(lines))


# -- free-text "Returns" sections ---------------------------------------------------------------
def _is_header(lines: list[str], i: int) -> bool:
    """Whether ``lines[i]`` is a numpy section title (a word line underlined with dashes)."""
    return (
        i + 1 < len(lines)
        and bool(lines[i].strip())
        and set(lines[i + 1].strip()) == {"-"}
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    )


def free_text_returns(app, what, name, obj, options, lines: list[str]) -> None:
    """Let a ``Returns`` section be a plain paragraph, as much of scam's docstrings write it.

    napoleon reads every unindented line of a numpy ``Returns`` section as a return type, so
    ``The trained model (and the copy if ``copy=True``).`` over two lines renders as a bullet list of
    two "types". A section whose first line ends a sentence, or whose second line is not indented
    under the first, is rewritten as one untyped entry (``:`` followed by the indented text), which
    napoleon renders as a plain paragraph. Typed sections (``AnnData`` + indented description) are
    left alone.
    """
    i = 0
    while i < len(lines):
        if lines[i].strip() == "Returns" and _is_header(lines, i):
            start = i + 2
            end = start
            while end < len(lines) and not _is_header(lines, end):
                end += 1
            block = lines[start:end]
            while block and not block[-1].strip():
                block.pop()
            content = [ln for ln in block if ln.strip()]
            if content:
                first = content[0]
                indent = len(first) - len(first.lstrip())
                second_indent = len(content[1]) - len(content[1].lstrip()) if len(content) > 1 else None
                if first.rstrip().endswith((".", ":", ",")) or (second_indent is not None and second_indent <= indent):
                    new = [" " * indent + ":"] + ["    " + ln if ln.strip() else ln for ln in block]
                    tail = lines[start + len(block) : end]
                    lines[start:end] = [*new, *tail]
                    end = start + len(new) + len(tail)
            i = end
        else:
            i += 1


def untyped_attributes(app, what, name, obj, options, lines: list[str]) -> None:
    """Keep a property's first line whole: napoleon reads ``text: more`` there as ``type: description``."""
    if what in ("property", "attribute", "data") and lines and re.search(r"(?<!:):(?!:)", _CODE.sub("", lines[0])):
        lines[0] = ": " + lines[0]


_CODE = re.compile(r"``[^`]*``|`[^`]*`")


def setup(app):  # noqa: D103
    # Runs when Sphinx loads this file, before autosummary scans the sources; importing conf.py
    # (tests/test_docs.py does) writes nothing.
    _copy_tutorials()
    _write_api()
    # both run before napoleon (priority 500)
    app.connect("autodoc-process-docstring", free_text_returns, priority=400)
    app.connect("autodoc-process-docstring", untyped_attributes, priority=400)
