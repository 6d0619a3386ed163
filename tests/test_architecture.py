"""The package's shape: imports run one way through the layers, and importing is light."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sklearn_aclr

PACKAGE = Path(sklearn_aclr.__file__).parent

# Each module's layer; a module may import from its own layer and the ones below only.
LAYERS = [
    ("core", ["_version", "_lazy", "_docs", "_warnings", "exceptions", "_layout",
              "_sources"]),
    ("data", ["datasets", "io", "_validation", "_summary", "preprocessing"]),
    ("augmentations", ["augmentations"]),
    ("torch modules", ["nn", "_torch_utils"]),
    ("skorch nets", ["_precision", "_callbacks", "_checkpoint", "_nets"]),
    ("estimators", ["persistence", "_base", "_transformer", "_scorer", "distributed",
                    "model_selection", "_outlier", "_ensemble"]),
    ("metrics and plots", ["metrics", "plotting"]),
    ("study and CLI", ["study", "_cli", "__main__"]),
]


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module):
    """Index of the layer of ``sklearn_aclr.a.b``: that of its first part below the package."""
    top = module.split(".")[1]
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{module} belongs to no layer; add it to LAYERS")


def _imports(module, path, modules):
    """The package's modules that ``module`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                package = module.split(".")[: -node.level or None]
                base = ".".join(package + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names
                     if name == "sklearn_aclr" or name.startswith("sklearn_aclr."))
    return found


def _graph():
    modules = _modules()
    return {module: _imports(module, path, modules) - {module}
            for module, path in modules.items()}


def test_every_module_has_a_layer():
    for module in _modules():
        if module != "sklearn_aclr":
            _layer(module)


def test_imports_run_down_the_layers():
    upward = []
    for module, imported in _graph().items():
        if module == "sklearn_aclr":
            continue  # the package's front door names public objects of every layer
        for target in imported:
            if target == "sklearn_aclr":
                if _layer(module) < len(LAYERS) - 1:
                    upward.append(f"{module} -> sklearn_aclr (the whole package)")
            elif _layer(target) > _layer(module):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that run back up a layer:\n" + "\n".join(sorted(upward))


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    graph["sklearn_aclr"] = set()  # the front door imports lazily, on first use
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycle = trail[trail.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def _loaded_after(statement):
    code = (f"import sys, json; {statement}; "
            "print(json.dumps(sorted(m for m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("statement, absent", [
    ("import sklearn_aclr",
     ["torch", "skorch", "h5py", "matplotlib", "pooch", "dask",
      "sklearn_aclr.datasets._simulation"]),
    ("import sklearn_aclr.metrics", ["torch", "skorch", "h5py", "matplotlib"]),
    ("import sklearn_aclr.datasets", ["torch", "h5py", "sklearn_aclr.datasets._simulation"]),
    # --help and --version build the parser only: they answer in a fraction of a second.
    ("import sklearn_aclr._cli; sklearn_aclr._cli._make_parser()",
     ["torch", "sklearn", "h5py", "joblib", "sklearn_aclr.datasets._simulation"]),
    ("from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler",
     ["h5py", "matplotlib", "pooch", "dask", "sklearn_aclr.datasets._simulation"]),
])
def test_imports_load_only_what_they_use(statement, absent):
    loaded = _loaded_after(statement)
    assert not loaded & set(absent), f"{statement!r} loads {sorted(loaded & set(absent))}"


def test_lazy_names_are_the_classes_and_listed():
    from sklearn_aclr._transformer import AnomalyCLRTransformer

    assert sklearn_aclr.AnomalyCLRTransformer is AnomalyCLRTransformer
    assert set(sklearn_aclr.__all__) <= set(dir(sklearn_aclr))
    with pytest.raises(AttributeError, match="no attribute 'NotAThing'"):
        sklearn_aclr.NotAThing  # noqa: B018
