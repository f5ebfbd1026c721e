"""float64 work is float64-exact: Python scalars are weakly typed (applied at the tensor's own
precision, never rounded to float32 on the way), in forward, in VJPs, in kernels and in nn code.

The broad sweeps live elsewhere (tests/test_opdb_torch.py: every op against torch at rtol 1e-10;
tests/test_nn_layers.py `compare`: every layer in float64 against torch); these are the cases
that were found wrong, each pinned down where it cannot hide."""
import math

import numpy as np
import pytest
import torch
from helpers import to_np
from test_nn_layers import _sync

import tinygrad_chain as tc


def _leaf(a, dtype=tc.float64):
    return tc.tensor(a, dtype=dtype, requires_grad=True)


def test_python_divisor_gradient_is_exact(rng):
    x = _leaf(rng.standard_normal((3, 4)))
    (x / 14).sum().backward()
    assert np.all(to_np(x.grad) == 1 / 14)  # torch: exact; the float32 rounding of 1/14 was 3.2e-9 off


def test_python_divisor_of_a_kernel_sized_tensor(rng):
    x = _leaf(rng.standard_normal(70_000))
    (x / 3).sum().backward()
    assert np.all(to_np(x.grad) == 1 / 3)


@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_and_std_gradients_are_exact(rng, fn):
    a = rng.standard_normal((3, 4, 5))
    x, t = _leaf(a), torch.tensor(a, requires_grad=True)
    getattr(x, fn)(dim=(0, 2), unbiased=True, keepdim=True).sum().backward()
    getattr(t, fn)(dim=(0, 2), unbiased=True, keepdim=True).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), t.grad.numpy(), rtol=1e-13, atol=1e-15)
    if fn == "var":
        np.testing.assert_allclose(to_np(x.grad), 2 * (a - a.mean(axis=(0, 2), keepdims=True)) / 14, rtol=1e-13)


def test_float32_tensor_rounds_the_scalar_once(rng):
    """The weak-scalar rule's other half: a float32 tensor sees float32(1/3), and stays float32."""
    a = rng.standard_normal(8).astype(np.float32)
    out = tc.tensor(a) * (1 / 3)
    assert out.dtype is tc.float32
    np.testing.assert_array_equal(to_np(out), a * np.float32(1 / 3))


def test_broadcast_value_meets_another_dtype_at_its_own_precision():
    """A float64 gradient expanded over an int count (amax's VJP) must not become a weak Python scalar
    next to the count's float32 cast: that rounded it to float32 (found at small sizes on the
    kernels-everywhere device)."""
    g = tc.tensor([0.1049001171530397], dtype=tc.float64)
    out = g.expand(70_000) / tc.tensor([1])
    assert out.dtype is tc.float64 and out.shape == (70_000,)
    assert to_np(out)[0] == 0.1049001171530397


def test_broadcast_value_keeps_the_broadcast_shape():
    """An expanded single value beside a smaller operand: the result has the broadcast shape."""
    e = tc.tensor([0.5], dtype=tc.float64).expand(70_000)
    c = tc.tensor([2.0], dtype=tc.float64)
    for out in (e / c, e * c, c - e):
        assert out.shape == (70_000,)
    np.testing.assert_array_equal(to_np(e / c), np.full(70_000, 0.25))


@pytest.mark.parametrize("dtype", [tc.float64, tc.float32])
def test_erf_and_gelu_to_the_precision_of_the_dtype(dtype):
    """NumPy has no erf: ours was a 1.2e-7 fit, which cost float64 gelu 7 digits."""
    x_np = np.concatenate([np.linspace(-7, 7, 20_001), [0.0, -0.0, 1e-30, -1e-300, np.inf, -np.inf]])
    x_np = x_np.astype(np.float64 if dtype is tc.float64 else np.float32)
    exact = np.array([math.erf(float(v)) for v in x_np])
    got = to_np(tc.tensor(x_np).erf())
    rel = np.abs(got - exact) / np.maximum(np.abs(exact), np.finfo(x_np.dtype).tiny)
    assert rel.max() < (1e-15 if dtype is tc.float64 else 5e-7), rel.max()
    assert np.signbit(got[x_np.size - 5]) and np.isnan(to_np(tc.tensor([np.nan], dtype=dtype).erf()))[0]
    # gelu runs a C++ kernel on cpp at this size; the exact values come from the exact erf
    ours = to_np(tc.nn.functional.gelu(tc.tensor(x_np[:-2])))
    theirs = torch.nn.functional.gelu(torch.tensor(x_np[:-2].astype(np.float64))).numpy()
    tol = dict(rtol=1e-12, atol=1e-15) if dtype is tc.float64 else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours, theirs, **tol)


def test_float64_transformer_layer_matches_torch(rng):
    """The issue's case: norm_first with gelu, parameter gradients 1.9e-6 off torch's before."""
    kw = dict(dim_feedforward=16, dropout=0.0, activation="gelu", norm_first=True)
    ours = tc.nn.TransformerEncoderLayer(8, 2, **kw).double()
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **kw).double()
    _sync(ours, theirs)
    x = rng.standard_normal((5, 3, 8))
    cot = rng.standard_normal((5, 3, 8))
    (ours(tc.tensor(x)) * tc.tensor(cot)).sum().backward()
    (theirs(torch.tensor(x)) * torch.tensor(cot)).sum().backward()
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), grads[name].grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


def test_fused_constants_enter_at_the_tensor_precision(rng):
    """Fused programs (every size on cpp_fused, 64K+ on cpp) take constants as the tensor's dtype."""
    a = rng.standard_normal(70_000)
    x = _leaf(a)
    y = (x * (1 / 3) + 0.1).tanh() / 7
    y.sum().backward()
    t = torch.tensor(a, requires_grad=True)
    r = (t * (1 / 3) + 0.1).tanh() / 7
    r.sum().backward()
    np.testing.assert_allclose(to_np(y), r.detach().numpy(), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(to_np(x.grad), t.grad.numpy(), rtol=1e-13, atol=1e-16)


def test_kernel_size_thresholds_are_settable():
    cpp_backend = pytest.importorskip("tinygrad_chain.backends.cpp_backend")
    before = cpp_backend.min_sizes()
    assert set(before) == {"act", "arith", "reduce", "rows", "gemm", "gemm_each", "optim"}
    previous = cpp_backend.set_min_sizes(act=5)
    try:
        assert previous == before and cpp_backend.min_sizes()["act"] == 5
        with pytest.raises(ValueError, match="unknown kernel families"):
            cpp_backend.set_min_sizes(gemmm=0)
        with pytest.raises(ValueError, match="non-negative"):
            cpp_backend.set_min_sizes(act=-1)
    finally:
        cpp_backend.set_min_sizes(**previous)
    assert cpp_backend.min_sizes() == before
