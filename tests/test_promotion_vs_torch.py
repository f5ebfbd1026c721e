"""Result dtypes and values of mixed-dtype operands, against torch itself: a 0-d tensor meeting a
tensor with dimensions (torch's category rule, dtypes.zero_dim_joins), NumPy scalars (weak, as
Python numbers), Python bools on the fused path."""
import itertools
import operator

import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc

torch = pytest.importorskip("torch")

DTYPES = ("bool", "int32", "int64", "float16", "bfloat16", "float32", "float64")
OPS = {"add": operator.add, "mul": operator.mul, "truediv": operator.truediv, "eq": operator.eq,
       "lt": operator.lt, "maximum": lambda a, b: a.maximum(b),
       "where": lambda a, b: (tc if isinstance(a, tc.Tensor) else torch).where(b > 0, a, b)}
VALUES = (3, -7, 5, 2, -4, 6)


def _pair(lib, dtype, shape, values):
    a = np.array(values[:int(np.prod(shape))]).reshape(shape)
    if lib is torch:
        return torch.tensor(a).to(getattr(torch, dtype))
    return tc.tensor(a).to(getattr(tc, dtype))


def _assert_same(out, expected):
    assert out.dtype.name == str(expected.dtype).replace("torch.", ""), (out.dtype, expected.dtype)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(to_np(out).astype(np.float64), expected.double().numpy())


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("shapes", [((), (4,)), ((2, 3), ())], ids=["zero_first", "zero_second"])
def test_zero_dim_tensor_takes_the_dimensioned_dtype_unless_of_a_higher_kind(op, shapes):
    fn = OPS[op]
    for da, db in itertools.product(DTYPES, DTYPES):
        if op in ("maximum", "where") and "bool" in (da, db):
            continue  # torch.maximum on bool, a bool `where` branch: outside this rule
        expected = fn(_pair(torch, da, shapes[0], VALUES), _pair(torch, db, shapes[1], VALUES[::-1]))
        out = fn(_pair(tc, da, shapes[0], VALUES), _pair(tc, db, shapes[1], VALUES[::-1]))
        _assert_same(out, expected)


def test_float64_zero_dim_tensor_computes_at_float32_and_its_gradient_stays_float64():
    # torch: x (float32) * s (float64, 0-d) is float32; s's gradient is float64
    def run(lib):
        x = lib.tensor(np.array([0.1, 0.2, 0.3], np.float32), requires_grad=True)
        s = lib.tensor(0.1, dtype=lib.float64, requires_grad=True)
        y = x * s
        y.sum().backward()
        return y, x.grad, s.grad

    for out, expected in zip(run(tc), run(torch)):
        assert out.dtype.name == str(expected.dtype).replace("torch.", "")
        np.testing.assert_allclose(to_np(out), expected.detach().numpy(), rtol=1e-7)
    assert (tc.tensor([0.1], dtype=tc.float32) == tc.tensor(0.1, dtype=tc.float64)).item()  # compared as float32


@pytest.mark.parametrize("scalar", [np.float64(2.5), np.float32(2.5), np.int64(3), np.int32(-2)],
                         ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int32"])
def test_numpy_scalars_are_weak_like_python_numbers(scalar, dtype):
    for fn in (operator.mul, lambda a, b: b + a, operator.truediv):
        expected = fn(_pair(torch, dtype, (3,), VALUES), scalar)
        _assert_same(fn(_pair(tc, dtype, (3,), VALUES), scalar), expected)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_python_bool_operand(dtype):
    # cpp_fused recorded a bool scalar as an array (AttributeError: 'bool' object has no attribute 'size')
    big = tuple(range(-6, 6)) * 200
    for fn in (operator.add, operator.mul, operator.truediv, operator.eq):
        for flag in (True, False):
            expected = fn(_pair(torch, dtype, (len(big),), big), flag)
            _assert_same(fn(_pair(tc, dtype, (len(big),), big), flag), expected)
