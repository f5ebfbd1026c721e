"""The package's shape, read from its source with ast (nothing is imported).

The floors point one way (DESIGN.md): the user API (tensor.py, nn, optim, creation, functions, ...)
over the engine (autograd/, ops/: the tape, the registry and the ops) over the backends over the
compiled kernels. A floor imports only its own and lower floors, no module writes a name into another
module to close a cycle, and a function-local import is kept only to defer an optional or heavy
dependency, each named below with its reason.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = "tinygrad_chain"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "backends":  # backends/ is mapped into the package (pyproject.toml's package-dir)
        parts = [PKG] + parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {_module_name(p): p for d in (PKG, "backends") for p in sorted((ROOT / d).rglob("*.py"))}
MODULES = set(SOURCES) | {f"{PKG}._C"}  # the compiled extension, built or not

# lowest first; a module not named here belongs to the API floor
FLOORS = ("csrc", "backends", "engine", "api")


def floor(module):
    if module == f"{PKG}._C":
        return 0
    # dtypes: the dtype table every floor shares, so it sits on the lowest one that uses it
    if module.startswith(f"{PKG}.backends") or module == f"{PKG}.dtypes":
        return 1
    # dims: the dim, shape and scalar argument checks the ops (reductions) and the API share
    if module.startswith((f"{PKG}.autograd", f"{PKG}.ops")) or module == f"{PKG}.dims":
        return 2
    return 3


def _package(module):
    return module if SOURCES[module].name == "__init__.py" else module.rpartition(".")[0]


def _targets(module, node):
    """The package's modules an import statement loads (`from a import b` loads a.b when it is one)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = _package(module).split(".")
            base = ".".join(pkg[:len(pkg) - node.level + 1] + ([node.module] if node.module else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    return [n for n in names if n == PKG or n.startswith(PKG + ".")]


def _imports():
    """(module, statement, inside a function) for every import statement of the package."""
    out = []
    for module, path in SOURCES.items():
        tree = ast.parse(path.read_text())
        local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        out += [(module, n, id(n) in local) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return out


IMPORTS = _imports()


@pytest.fixture(autouse=True)
def device():
    """These tests read source files: they run once, not once per device (conftest's fixture)."""
    yield None


def test_the_source_tree_is_what_the_floors_describe():
    assert {f"{PKG}.tensor", f"{PKG}.ops.registry", f"{PKG}.autograd.engine", f"{PKG}.backends.base"} <= set(SOURCES)
    assert len(SOURCES) > 100 and len(IMPORTS) > 500


def test_no_import_reaches_a_higher_floor():
    upward = []
    for module, node, _ in IMPORTS:
        for target in _targets(module, node):
            if target in MODULES and floor(target) > floor(module):
                upward.append(f"{SOURCES[module].relative_to(ROOT)}:{node.lineno} ({FLOORS[floor(module)]}) imports "
                              f"{target} ({FLOORS[floor(target)]})")
    assert not upward, "\n".join(upward)


def test_below_the_api_nothing_imports_the_package_facade():
    """`import tinygrad_chain` runs the whole API; a lower floor names the module it needs."""
    facade = [f"{SOURCES[m].relative_to(ROOT)}:{n.lineno}" for m, n, _ in IMPORTS
              if floor(m) < 3 and PKG in _targets(m, n)]
    assert not facade, facade


def test_no_module_writes_into_another_to_close_a_cycle():
    """registry.Tensor = Tensor was how the engine once met the API's class: a name written into another
    module from outside. Module-level assignments to an attribute of an imported module are refused."""
    written = []
    for module, path in SOURCES.items():
        tree = ast.parse(path.read_text())
        imported = {(a.asname or a.name).split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                    for a in n.names}
        for n in tree.body:
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AugAssign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in imported:
                    written.append(f"{path.relative_to(ROOT)}:{n.lineno}: {ast.unparse(t)} = ...")
            if (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
                    and n.value.func.id == "setattr" and isinstance(n.value.args[0], ast.Name)
                    and n.value.args[0].id in imported):
                written.append(f"{path.relative_to(ROOT)}:{n.lineno}: {ast.unparse(n)}")
    assert not written, "\n".join(written)


# (module, what it imports inside a function): why not at module level. Optional dependencies (an extra
# or a system package that may be missing) and heavy ones that only some calls need.
LOCAL_IMPORTS = {
    ("tinygrad_chain.autograd.graph", "graphviz"): "optional (the viz extra); asked for only by render/to_dot",
    ("tinygrad_chain.autograd.graph.draw", "matplotlib"): "optional (viz extra), heavy: only render() without dot",
    ("tinygrad_chain.nn.utils.gradient_flow", "matplotlib"): "optional, heavy: only when a figure is drawn",
    ("tinygrad_chain.datasets", "sklearn"): "optional (scikit-learn's digits), heavy: only load_digits",
    ("tinygrad_chain.threads", "threadpoolctl"): "optional: the BLAS thread count, when it is installed",
    ("tinygrad_chain.dtypes", "ml_dtypes"): "heavy (half a second): bfloat16's NumPy dtype, on its first use",
    ("tinygrad_chain.distributed.group", "mpi4py"): "optional (the distributed extra): only init_process_group",
    ("tinygrad_chain.distributed.group", "cupy"): "optional (the cuda extra): only the nccl backend",
    ("tinygrad_chain.distributed.group", "tinygrad_chain.distributed.nccl_transport"): "imports cupy: nccl only",
    ("tinygrad_chain.distributed.mpi_transport", "mpi4py"): "optional: MPI starts when a group is made",
    ("tinygrad_chain.distributed.nccl_transport", "cupy"): "optional (the cuda extra)",
    ("tinygrad_chain.backends.cupy_backend", "cupyx"): "cupyx.scipy.special needs SciPy (optional): erf only",
    ("tinygrad_chain.backends.cupy_kernels", "cupyx"): "scatter_add on a cupy without ufunc.at only",
}


def _local_imports():
    found = {}
    for module, node, local in IMPORTS:
        if not local:
            continue
        names = _targets(module, node) or (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module])
        for name in names:
            key = (module, name if name.startswith(PKG) else name.split(".")[0])
            found.setdefault(key, []).append(f"{SOURCES[module].relative_to(ROOT)}:{node.lineno}")
    return found


def test_function_local_imports_are_the_listed_ones():
    found = _local_imports()
    unlisted = {k: v for k, v in found.items() if k not in LOCAL_IMPORTS}
    assert not unlisted, f"function-local imports not in LOCAL_IMPORTS (import at module level, or list " \
                         f"the optional dependency they defer): {unlisted}"
    stale = set(LOCAL_IMPORTS) - set(found)
    assert not stale, f"LOCAL_IMPORTS lists imports the code no longer makes: {stale}"


def _library_files():
    for d, patterns in (("tinygrad_chain", ("*.py",)), ("backends", ("*.py",)), ("csrc", ("*.h", "*.cpp", "*.cu"))):
        for pattern in patterns:
            for p in sorted((ROOT / d).rglob(pattern)):
                if "generated" not in p.relative_to(ROOT).parts:  # written by setup.py at build time
                    yield p


def test_no_library_file_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in _library_files() if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long


@pytest.mark.parametrize("module", [f"{PKG}.ops.registry", f"{PKG}.autograd.engine", f"{PKG}.creation",
                                    f"{PKG}.legacy"])
def test_modules_that_once_closed_the_cycle_import_no_tensor_module(module):
    """The registry, the engine, the factories and the legacy constructors make tensors through
    TensorCore.make: none imports tensor.py, so tensor.py imports them at module level."""
    imported = {t for m, n, _ in IMPORTS if m == module for t in _targets(m, n)}
    assert f"{PKG}.tensor" not in imported


def _engine_files():
    """tensor.py and its method files, the registry and the ops, the tape and the backward engine."""
    yield from sorted((ROOT / PKG).glob("tensor*.py"))
    for d in ("ops", "autograd"):
        yield from sorted((ROOT / PKG / d).rglob("*.py"))


def test_fusion_is_the_backends_business():
    """Tensor, registry, ops and engine see plain arrays: none of them names fusion (issue 15)."""
    named = [f"{p.relative_to(ROOT)}:{i}" for p in _engine_files()
             for i, line in enumerate(p.read_text().splitlines(), 1) if "fusion" in line.lower()]
    assert not named, named


def test_the_tape_sits_below_the_registry():
    """Within the engine floor, ops/ (the registry and the ops) imports autograd/ (the tape, the grad
    mode, the backward engine), never the other way."""
    upward = [f"{SOURCES[m].relative_to(ROOT)}:{n.lineno} imports {t}" for m, n, _ in IMPORTS
              if m.startswith(f"{PKG}.autograd") for t in _targets(m, n) if t.startswith(f"{PKG}.ops")]
    assert not upward, upward


def _module_level_graph():
    """module -> the package modules its module-level imports run, parents' __init__ included
    (`import a.b.c` runs a/b/__init__.py first); the facade `tinygrad_chain` itself is left out:
    every module of the package runs inside its import."""
    edges = {m: set() for m in SOURCES}
    for module, node, local in IMPORTS:
        if local:
            continue
        for target in _targets(module, node):
            while target not in (PKG, "") and target != module:
                if target in SOURCES and not module.startswith(target + "."):
                    edges[module].add(target)
                target = target.rpartition(".")[0]
    return edges


def _cycles(edges):
    """The strongly connected components with more than one module (Tarjan's, iterative)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]; counter[0] += 1; stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        x = stack.pop(); on.discard(x); comp.add(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        found.append(comp)
            elif w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1; stack.append(w); on.add(w)
                work.append((w, iter(edges[w])))
            elif w in on:
                low[v] = min(low[v], index[w])
    return found


def test_no_import_cycle_below_the_facade():
    """Module-level imports form no cycle, but for tc.nn.modules (torch's import path: it re-exports
    tc.nn, which imports it after every layer)."""
    cycles = [sorted(c) for c in _cycles(_module_level_graph()) if c != {f"{PKG}.nn", f"{PKG}.nn.modules"}]
    assert not cycles, cycles
