"""The helpers of docs/conf.py: the API list follows ``__all__``, docstring rewrites before napoleon.

The full build (``sphinx-build -W``) runs in CI; these checks need no Sphinx.
"""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[1] / "docs" / "conf.py"


@pytest.fixture(scope="module")
def conf():
    spec = importlib.util.spec_from_file_location("scam_docs_conf", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _state(folder: Path):
    return sorted((str(p), p.stat().st_mtime_ns) for p in folder.rglob("*")) if folder.exists() else None


def test_importing_conf_writes_nothing(conf):
    # copying tutorials and writing the API pages happen in setup(), when Sphinx loads conf.py
    docs = CONF.parent
    before = (_state(docs / "api"), _state(docs / "tutorials"))
    spec = importlib.util.spec_from_file_location("scam_docs_conf_again", CONF)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert (_state(docs / "api"), _state(docs / "tutorials")) == before
    assert conf.nb_execution_mode == "off"
    assert "sphinx.ext.intersphinx" not in conf.extensions  # the build is offline


@pytest.mark.parametrize("module_name", ["scam.tl", "scam.pl", "scam.pp", "scam.datasets"])
def test_api_lists_every_public_name(conf, module_name):
    mod = importlib.import_module(module_name)
    assert conf._public_names(module_name, False) == list(mod.__all__)
    assert module_name in {m for m, *_ in conf.API_SECTIONS}


def test_api_lists_the_model_but_not_submodules(conf):
    names = conf._public_names("scam", False)
    assert names == ["ActionModel", "settings"]  # datasets, pl, pp, tl are modules: sections of their own


def test_api_page_has_an_autosummary_entry_per_name(conf, tmp_path, monkeypatch):
    monkeypatch.setattr(conf, "HERE", tmp_path)
    conf._write_api()
    text = (tmp_path / "api" / "index.rst").read_text()
    import scam

    for name in scam.tl.__all__:
        assert f"\n   {name}\n" in text
    assert "\n   ActionModel\n" in text
    assert ".. autosummary::" in text and ":toctree: generated" in text


def test_tutorials_are_copied_and_an_empty_folder_still_builds(conf, tmp_path, monkeypatch):
    root, here = tmp_path / "repo", tmp_path / "repo" / "docs"
    here.mkdir(parents=True)
    monkeypatch.setattr(conf, "ROOT", root)
    monkeypatch.setattr(conf, "HERE", here)
    assert conf._copy_tutorials() == []
    assert [p.name for p in (here / "tutorials").iterdir()] == ["none.md"]  # the toctree glob matches
    (root / "tutorials").mkdir()
    (root / "tutorials" / "b.ipynb").write_text("{}")
    (root / "tutorials" / "a.ipynb").write_text("{}")
    (root / "tutorials" / "fig.png").write_bytes(b"png")
    assert conf._copy_tutorials() == ["a.ipynb", "b.ipynb"]
    assert sorted(p.name for p in (here / "tutorials").iterdir()) == ["a.ipynb", "b.ipynb", "fig.png"]


def test_free_text_returns_become_one_untyped_entry(conf):
    lines = [
        "Summary.",
        "",
        "Returns",
        "-------",
        "The trained model (and the copy if",
        "``copy=True``).",
        "",
        "Raises",
        "------",
        "ValueError",
        "    If bad.",
    ]
    conf.free_text_returns(None, "function", "f", None, {}, lines)
    assert lines[4:7] == [":", "    The trained model (and the copy if", "    ``copy=True``)."]
    assert lines[lines.index("Raises") + 2 :] == ["ValueError", "    If bad."]


@pytest.mark.parametrize(
    "block",
    [
        ["AnnData", "    The data."],
        ["birth, death", "    Arrays of shape ``(n,)``."],
        ["tuple[numpy.ndarray, float]", "    Positions and time."],
    ],
)
def test_typed_returns_are_left_alone(conf, block):
    lines = ["Returns", "-------", *block]
    before = list(lines)
    conf.free_text_returns(None, "function", "f", None, {}, lines)
    assert lines == before


def test_one_sentence_return_is_free_text(conf):
    lines = ["Returns", "-------", "The Figure with ``return_fig``, else ``None``."]
    conf.free_text_returns(None, "function", "f", None, {}, lines)
    assert lines == ["Returns", "-------", ":", "    The Figure with ``return_fig``, else ``None``."]


def test_property_first_line_keeps_its_colon(conf):
    lines = ["σ in user units: representation units per square root of time."]
    conf.untyped_attributes(None, "property", "p", None, {}, lines)
    assert lines == [": σ in user units: representation units per square root of time."]
    plain = ["Device of the network."]
    conf.untyped_attributes(None, "property", "p", None, {}, plain)
    assert plain == ["Device of the network."]
    code = ["Shape ``(n, d)`` of ``a::b``."]
    conf.untyped_attributes(None, "property", "p", None, {}, code)
    assert code == ["Shape ``(n, d)`` of ``a::b``."]
    method = ["Returns x: a value."]
    conf.untyped_attributes(None, "method", "m", None, {}, method)
    assert method == ["Returns x: a value."]


def test_no_install_hint_names_the_unrelated_scam_package():
    """``pip install scam[...]`` would install another project (PyPI's ``scam``): every hint says ``scam-sc[...]``."""
    root = Path(__file__).resolve().parents[1]
    files = [root / "README.md", root / "pyproject.toml", *root.glob("docs/*.md"), *root.glob("scam/**/*.py")]
    files += [*root.glob("tutorials/**/*.py"), *root.glob("tutorials/*.ipynb"), root / ".ci" / "run"]
    wrong = [
        f"{f.relative_to(root)}:{i}"
        for f in files
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if re.search(r"\bscam\[", line)
    ]
    assert len(files) > 50
    assert not wrong, f"install hints naming the package `scam` instead of `scam-sc`: {wrong}"
