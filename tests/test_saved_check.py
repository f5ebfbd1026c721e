"""The in-place check covers only what the needed gradients read, as torch's saved tensors.

Each case builds a small graph, writes into a tensor the graph used, and runs backward, in
torch and in tinygrad_chain: where torch computes gradients, they must be the same; where
torch raises ("modified by an inplace operation"), tinygrad_chain must raise too.
"""
import numpy as np
import pytest
import torch

import tinygrad_chain as tc


def _mul_by_number(m, F, x, c):
    y = x * 1
    z = y * 2.0  # a Python factor: x's gradient reads no tensor
    y.add_(1)
    return z


def _rdiv(m, F, x, c):
    y = x * 1
    z = 1 / y + 3.0 / y  # reciprocal keeps its output, not y
    y.add_(1)
    return z


def _div_by_constant(m, F, x, c):
    y = x * 1
    z = y / c["d"]  # y's gradient reads the divisor only
    y.add_(1)
    return z


def _mul_by_constant(m, F, x, c):
    y = x * 1
    z = y * c["d"]
    y.mul_(3)
    return z


def _matmul_constant(m, F, x, c):
    y = x * 1
    z = y @ c["w"]
    y.add_(1)
    return z


def _linear_constant(m, F, x, c):
    y = x * 1
    z = F.linear(y, c["w"].T) + F.linear(y, c["w"].T, c["b"])
    y.add_(1)
    return z


def _pow_output(m, F, x, c):
    z = x ** 2  # a Python exponent: the output is not read
    z.add_(1)
    return z


HARMLESS = [_mul_by_number, _rdiv, _div_by_constant, _mul_by_constant, _matmul_constant, _linear_constant,
            _pow_output]


def _mul_by_weight(m, F, x, c):
    y = x * 1
    z = y * c["g"]  # g's gradient reads y
    y.add_(1)
    return z


def _weight_modified(m, F, x, c):
    z = x * c["d"]  # x's gradient reads d
    c["d"].add_(1)
    return z


def _matmul_weight(m, F, x, c):
    y = x * 1
    z = y @ c["gw"]
    y.add_(1)
    return z


def _linear_input(m, F, x, c):
    z = F.linear(x, c["w"].T)
    c["w"].add_(1)
    return z


def _pow_base(m, F, x, c):
    y = x * 1
    z = y ** 3
    y.add_(1)
    return z


def _pow_exponent_output(m, F, x, c):
    z = c["d"].abs() ** x  # the exponent's gradient reads the output
    z.add_(1)
    return z


def _divisor_modified(m, F, x, c):
    y = x * 1
    z = y / c["d"]
    c["d"].add_(1)
    return z


HAZARDS = [_mul_by_weight, _weight_modified, _matmul_weight, _linear_input, _pow_base, _pow_exponent_output,
           _divisor_modified]


def _run(m, F, case, arrays):
    x = m.tensor(arrays["x"], requires_grad=True)
    c = {k: m.tensor(v) for k, v in arrays.items() if k != "x"}
    c["g"] = m.tensor(arrays["d"], requires_grad=True)
    c["gw"] = m.tensor(arrays["w"], requires_grad=True)
    z = case(m, F, x, c)
    z.sum().backward()
    return x.grad.numpy(), c["g"].grad, c["gw"].grad


def _arrays():
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((3, 4)).astype(np.float32) + 3, "d": rng.uniform(1, 2, (3, 4)).astype(np.float32),
            "w": rng.standard_normal((4, 5)).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32)}


@pytest.mark.parametrize("case", HARMLESS, ids=lambda f: f.__name__[1:])
def test_a_write_no_needed_gradient_reads_is_fine(case):
    arrays = _arrays()
    want = _run(torch, torch.nn.functional, case, arrays)[0]
    got = _run(tc, tc.nn.functional, case, arrays)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", HAZARDS, ids=lambda f: f.__name__[1:])
def test_a_write_a_needed_gradient_reads_raises(case):
    arrays = _arrays()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _run(torch, torch.nn.functional, case, arrays)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _run(tc, tc.nn.functional, case, arrays)


def test_python_apply_checks_as_the_c_one():
    """The C apply (csrc/apply.cpp) and Python's record the same versions for the same call."""
    from tinygrad_chain.ops import registry
    x, w = tc.ones(2, 2, requires_grad=True), tc.ones(2, 2)
    for apply in (registry.apply, registry.python_apply):
        node = apply(registry.REGISTRY["mul"], x, w).grad_fn
        assert node._versions == (None, 0)
        node = apply(registry.REGISTRY["pow"], x, 2.0).grad_fn
        assert node._out_version is None
        node = apply(registry.REGISTRY["pow"], w, x).grad_fn
        assert node._versions == (0, None) and node._out_version == 0
