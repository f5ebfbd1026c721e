"""backends/formulas.py, the one source of every elementwise formula: its three emitters agree.

No GPU is needed: the CUDA kernels cupy_kernels.py builds from the table are compiled here as
host C++ (g++, __device__ defined away, CUDA's math builtins from <cmath>), so a formula outside
the common language fails here. The values each device computes are tested by the op database
(tests/test_opdb*.py) and tests/test_cpp_kernels.py against torch.
"""
import importlib
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from tinygrad_chain.backends import formulas


class _Recorded:
    """Stands for cupy.ElementwiseKernel: keeps what it was given."""
    made = []

    def __init__(self, in_params, out_params, operation, name, preamble=""):
        self.source = (in_params, out_params, operation, name, preamble)
        _Recorded.made.append(self)


@pytest.fixture
def cupy_kernels(monkeypatch):
    """backends/cupy_kernels.py imported over a stand-in cupy that records the kernels it makes."""
    fake = types.ModuleType("cupy")
    fake.ElementwiseKernel = _Recorded
    fake.RawModule = object
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.delitem(sys.modules, "tinygrad_chain.backends.cupy_kernels", raising=False)
    cupy_kernels = importlib.import_module("tinygrad_chain.backends.cupy_kernels")  # a fresh copy
    _Recorded.made.clear()
    yield cupy_kernels
    monkeypatch.delitem(sys.modules, "tinygrad_chain.backends.cupy_kernels", raising=False)


def _host_function(k, in_params, out_params, operation):
    """An ElementwiseKernel's operation as a host function template of T."""
    def params(text, out):
        return [re.sub(r"^float64 ", "double ", p.strip()).replace("T ", "T& " if out else "T ", 1)
                for p in text.split(",") if p.strip()]
    args = ", ".join(params(in_params, False) + params(out_params, True))
    return (f"template <class T> void kernel{k}({args}) {{ {operation} }}\n"
            f"template void kernel{k}<float>({args.replace('T', 'float')});\n"
            f"template void kernel{k}<double>({args.replace('T', 'double')});\n")


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_the_cuda_kernels_compile_as_host_cpp(cupy_kernels, tmp_path):
    K = cupy_kernels
    for a in formulas.ACTS:
        K.act(a.name, False), K.act(a.name, True)
    for u in formulas.UPDATES:  # every row with all its states, and those with a state left out
        K.update(u.name, u.state)
    for name, state in (("adam", ("p", "m", "v")), ("rmsprop", ("p", "sq")), ("rmsprop", ("p", "sq", "buf"))):
        K.update(name, state)
    # a program with every instruction: inputs 0, 1, one constant 2, outputs 3.., scratch after
    names = formulas.INSTRUCTION_NAMES
    n_out = len(names)
    code = np.array([(names.index(n), 3 + k if n != "sum" else 0, 0, 1 if formulas.instruction_arity(n) == 2 else -1)
                     for k, n in enumerate(names)], np.int32)
    K.fused_kernel(names, code, 2, 1, n_out, 0, 1)
    made = [k for k in _Recorded.made if k.source[4] == K.PREAMBLE]
    assert len(made) == 2 * len(formulas.ACTS) + len(formulas.UPDATES) + 3 + 1
    src = ("#include <cmath>\nusing namespace std;\n#define __device__\n#define __forceinline__ inline\n"
           + K.PREAMBLE + "".join(_host_function(i, *k.source[:3]) for i, k in enumerate(made)))
    path = tmp_path / "kernels.cpp"
    path.write_text(src)
    run = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Werror=return-type", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]


def test_every_formula_stays_in_the_language():
    """Each body parses; each name it reads is an argument, a local set before, or a vocabulary function."""
    def check(body, args):
        known = set(args)
        for target, tree in formulas.parse(body):
            import ast
            for n in ast.walk(tree):
                if isinstance(n, ast.Name) and n.id not in known | set(formulas.VOCABULARY) | {"where"}:
                    raise AssertionError(f"{n.id!r} is read before it is set in {body!r}")
            formulas.c_expr(tree, 0), formulas.c_expr(tree, 1), formulas.py_expr(tree)
            known.add(target)
    for a in formulas.ACTS:
        check(a.fwd, ["x"] + [p for p, _ in a.params])
        check(a.bwd, ["g", a.saves] + [p for p, _ in a.params])
    for u in formulas.UPDATES:
        check(u.body, u.state + u.inputs + u.scalars)
    with pytest.raises(ValueError, match="outside the expression language"):
        formulas.c_expr(formulas.parse("x ** 2")[0][1], 0)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        formulas.c_expr(formulas.parse("lgamma(x)")[0][1], 0)


def test_literals_fold_to_one_constant_in_every_language():
    (_, tree), = formulas.parse("x * (2 * 0.7978845608028654)")
    assert formulas.c_expr(tree, 0) == "(x * T(1.5957691216057308))"
    assert formulas.py_expr(tree) == "V.mul(x, 1.5957691216057308)"


def test_the_python_reference_keeps_the_dtype():
    from tinygrad_chain.backends.numpy_backend import NumpyBackend
    b = NumpyBackend()
    x = np.linspace(-5, 5, 11, dtype=np.float32)
    for a in formulas.ACTS:
        params = [v for _, v in a.params]
        y = b.act(a.name, x, *params)
        assert y.dtype == np.float32, a.name
        assert b.act_backward(a.name, np.ones_like(x), y if a.saves == "y" else x, *params).dtype == np.float32
