"""Opcodes cross the pybind11 boundary by name: the extension lists each family once
(csrc/common.h), and every Python side that names opcodes agrees with it."""
import pytest

from tinygrad_chain.backends.base import FUSED_INSTRUCTIONS

_C = pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")
from tinygrad_chain.backends import cpp_backend  # noqa: E402


def test_families_are_named_and_distinct():
    families = _C.opcodes()
    assert set(families) == {"act", "binary", "softmax", "reduce", "fused"}
    for family, names in families.items():
        assert names and len(set(names)) == len(names), family


def test_the_fused_instruction_set_is_the_same_on_every_device():
    """cupy compiles FUSED_INSTRUCTIONS into its kernel source; the C++ programs run _C's FOp list."""
    assert _C.opcodes()["fused"] == list(FUSED_INSTRUCTIONS)
    assert cpp_backend.CppBackend.fused_ops == {name: i for i, name in enumerate(FUSED_INSTRUCTIONS)}


def test_every_opcode_the_backend_uses_exists():
    families = _C.opcodes()
    assert cpp_backend._ACT == {n: i for i, n in enumerate(families["act"])}
    assert cpp_backend._BIN == {n: i for i, n in enumerate(families["binary"])}
    assert cpp_backend._RED == {n: i for i, n in enumerate(families["reduce"])}
    assert families["softmax"][cpp_backend._SOFTMAX] == "softmax"
    assert families["softmax"][cpp_backend._LOG_SOFTMAX] == "log_softmax"
    # every activation the backend dispatches by name has a kernel
    for name in ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "softplus", "exp"):
        assert name in cpp_backend._ACT


def test_the_kernels_are_built_from_the_formula_table():
    """Activations and fused instructions are named once, in backends/formulas.py (setup.py writes the
    C++ lists from it): a stale build, or a list written by hand, shows up here."""
    from tinygrad_chain.backends import formulas
    assert _C.opcodes()["act"] == [a.name for a in formulas.ACTS]
    assert _C.opcodes()["fused"] == list(formulas.INSTRUCTION_NAMES)
