"""API conventions (after scanpy's ``test_sig_conventions``) and import hygiene."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from anndata import AnnData

import scam

ADATA_MODULES = {"tl": scam.tl, "pp": scam.pp, "pl": scam.pl}
ALL_MODULES = {**ADATA_MODULES, "datasets": scam.datasets}
BOOL_ANNOTATIONS = {bool, "bool", "bool | None", "None | bool"}
CORE_DIR = Path(scam.__file__).parent / "core"


def _public(modules: dict[str, ModuleType]) -> list[tuple[str, object]]:
    return [
        (f"scam.{mod_name}.{name}", getattr(mod, name)) for mod_name, mod in modules.items() for name in mod.__all__
    ]


PUBLIC = _public(ALL_MODULES)
PUBLIC_ADATA = _public(ADATA_MODULES)


def test_public_functions_collected():
    assert PUBLIC, "no public functions found"
    for qualname, f in PUBLIC:
        assert callable(f), f"{qualname} in __all__ is not callable"


@pytest.mark.parametrize(("qualname", "f"), PUBLIC, ids=[q for q, _ in PUBLIC])
def test_sig_conventions(qualname, f):
    params = list(inspect.signature(f).parameters.values())
    n_pos = sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in params)
    assert n_pos <= 3, f"{qualname} has {n_pos} positional parameters; make all but at most 3 keyword-only"
    assert not any(p.kind == p.POSITIONAL_ONLY for p in params), f"{qualname} has positional-only parameters"
    for p in params:
        if p.annotation in BOOL_ANNOTATIONS or isinstance(p.default, bool):
            assert p.kind == p.KEYWORD_ONLY, f"{qualname}: bool parameter `{p.name}` must be keyword-only"


@pytest.mark.parametrize(("qualname", "f"), PUBLIC_ADATA, ids=[q for q, _ in PUBLIC_ADATA])
def test_first_param_is_adata(qualname, f):
    first = next(iter(inspect.signature(f).parameters.values()))
    assert first.name == "adata", f"{qualname}: first parameter is `{first.name}`, not `adata`"
    # AnnData, or a union with it (scam.pl.benchmark also takes the benchmark's DataFrame)
    assert first.annotation is AnnData or "AnnData" in str(first.annotation), (
        f"{qualname}: `adata` is annotated {first.annotation!r}"
    )


CORE_FILES = sorted(CORE_DIR.glob("*.py"))


def _imported_modules(path: Path) -> list[tuple[int, int, str]]:
    """(line, relative level, module) of every import in a file, including ones inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, 0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, node.level, node.module or ""))
    return out


def test_core_files_found():
    assert {p.name for p in CORE_FILES} >= {"__init__.py", "train.py", "network.py"}


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_does_not_import_anndata_or_scanpy(path):
    for line, level, module in _imported_modules(path):
        top = module.split(".")[0]
        where = f"{path.name}:{line} imports {'.' * level}{module}"
        if level == 0:
            assert top not in {"anndata", "scanpy", "scam"}, where
        else:  # relative imports must stay inside scam.core (leaving it would pull in scam and anndata)
            assert level == 1, where
    # the text check catches what ast cannot (importlib.import_module("anndata"), __import__)
    source = path.read_text()
    assert "import_module(" not in source and "__import__(" not in source, path.name


def test_import_is_light():
    """``import scam`` must not import optional heavy modules; they are imported where used."""
    heavy = ["ot", "torchsde", "scanpy", "matplotlib.pyplot", "joblib", "distributed"]
    code = f"import json, sys; import scam; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`import scam` imports {loaded}"


def test_subpackages_the_docs_name_work_after_a_plain_import_and_load_on_first_use():
    """``scam.benchmark.run_lot`` (docs/benchmarks.md) after ``import scam``, without importing it up front."""
    code = (
        "import json, sys; import scam; before = 'scam.benchmark' in sys.modules; "
        "names = scam.benchmark.available_methods(); run = scam.benchmark.run_lot, scam.lot.run_lot; "
        "print(json.dumps([before, 'ot_midpoint' in names, all(map(callable, run))]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, True, True]
    import scam

    with pytest.raises(AttributeError, match="module 'scam' has no attribute 'nope'"):
        scam.nope  # noqa: B018


# ------------------------------------------------------------------------------------------------ layers
#: The package's layers, lowest first: a module may import a lower layer, or its own package, never a
#: higher layer nor a sibling package of its own layer.
LAYERS = {
    "scam.core": 0,  # pure torch: network, losses, couplings, interpolants, integrators, training loop
    "scam._keys": 0,
    "scam._units": 0,
    "scam._device": 0,
    "scam._settings": 0,  # scam.settings: torch threads from the CPUs this process may use
    "scam._io": 0,  # every file scam writes: checked first, written beside the target, then swapped in
    "scam._version": 0,  # the version and the distribution name
    "scam._logging": 0,  # the "scam" logger's handler, at scanpy's verbosity
    "scam._validation": 1,  # checks of user input (knows AnnData)
    "scam._time": 1,  # time points and masses per time point
    "scam._persist": 1,
    "scam._likelihood": 1,
    "scam._simulate": 1,
    "scam.model": 2,  # ActionModel
    "scam.trainer": 3,  # arrays in, ActionModel out
    "scam.lot": 4,  # the array-level leave-one-timepoint-out engine
    "scam.tl": 5,
    "scam.pp": 5,
    "scam.datasets": 5,
    "scam.pl": 6,
    "scam.benchmark": 7,  # reports
    "scam.cli": 8,
    "scam": 9,  # the package's __init__
}
PACKAGE_DIR = CORE_DIR.parent
PACKAGE_FILES = sorted(PACKAGE_DIR.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _group(module: str) -> str | None:
    """The entry of LAYERS a module belongs to (longest prefix), None outside scam."""
    hits = [g for g in LAYERS if module == g or module.startswith(g + ".")]
    return max(hits, key=len) if hits else None


def _resolve(importer: str, is_package: bool, level: int, module: str) -> str:
    if level == 0:
        return module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


MODULES = {_module_name(p) for p in PACKAGE_FILES}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a scam file; ``from pkg import mod`` gives ``pkg.mod``."""
    importer, is_package = _module_name(path), path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(importer, is_package, node.level, node.module or "")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((node.lineno, sub if sub in MODULES else base))
    return out


def test_every_module_has_a_layer():
    missing = [_module_name(p) for p in PACKAGE_FILES if _group(_module_name(p)) is None]
    assert not missing and len(PACKAGE_FILES) > 30, missing


@pytest.mark.parametrize("path", PACKAGE_FILES, ids=[_module_name(p) for p in PACKAGE_FILES])
def test_imports_only_look_down(path):
    importer = _module_name(path)
    group = _group(importer)
    for line, target in _imports(path):
        target_group = _group(target)
        if target_group is None:  # not scam
            continue
        where = f"{importer}:{line} imports {target} ({target_group}, layer {LAYERS[target_group]})"
        if target_group == group:
            continue
        assert LAYERS[target_group] < LAYERS[group], f"{where} from layer {LAYERS[group]} ({group})"
    source = path.read_text()
    assert "import_module(" not in source and "__import__(" not in source, importer


@pytest.mark.parametrize("path", sorted((PACKAGE_DIR / "pl").glob("*.py")), ids=lambda p: p.name)
def test_pl_imports_only_public_or_utils_helpers_of_tl(path):
    for line, target in _imports(path):
        if target.startswith("scam.tl."):
            assert target == "scam.tl._utils", f"pl/{path.name}:{line} imports the private {target}"
