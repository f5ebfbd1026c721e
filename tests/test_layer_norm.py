"""layer_norm, one op (ops/nn_ops.py LayerNorm) with one kernel each way per backend, against
torch.nn.functional.layer_norm: values and gradients in float64 at 1e-10 and in float32, with and
without weight and bias, over one and two axes, rows of one element and of none, rows longer than
the C++ kernel's blocks; the op database (tests/opdb/nn.py) adds gradcheck, gradgradcheck and the
second derivatives against torch. On the cpp device the C++ kernels (csrc/layernorm.cpp) must run
(on every ISA this CPU has), on each test device variant, the op database's samples included."""
import numpy as np
import pytest
import torch
from opdb.nn import _layer_norm_samples

import tinygrad_chain as tc
from tinygrad_chain import _C

F = tc.nn.functional
TF = torch.nn.functional
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _run(lib, x, shape, w, b, seed, eps=1e-5):
    """Output and gradients of sum(out * seed) for the given arrays (None stays None)."""
    make = (lambda a: torch.tensor(a, requires_grad=True)) if lib is torch else \
        (lambda a: tc.tensor(a, requires_grad=True))
    leaves = [None if a is None else make(a) for a in (x, w, b)]
    out = lib.nn.functional.layer_norm(leaves[0], shape, leaves[1], leaves[2], eps)
    wanted = [t for t in leaves if t is not None]
    grads = lib.autograd.grad((out * make(seed).detach()).sum(), wanted)
    return [t.detach().numpy() for t in [out, *grads]]


def _check(x, shape, w=None, b=None, eps=1e-5, seed=None, rng=None):
    seed = rng.standard_normal(x.shape).astype(x.dtype) if seed is None else seed
    ours, theirs = _run(tc, x, shape, w, b, seed, eps), _run(torch, x, shape, w, b, seed, eps)
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert o.dtype == t.dtype and o.shape == t.shape, (k, o.dtype, t.dtype, o.shape, t.shape)
        tol = dict(TOL[x.dtype.type])
        if x.dtype == np.float32 and t.size:  # a sum over many rows rounds in proportion to its largest terms
            tol["atol"] *= max(1.0, float(np.abs(t).max()))
        np.testing.assert_allclose(o, t, err_msg=f"output/gradient {k}", **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("affine", ["both", "none", "weight", "bias"])
@pytest.mark.parametrize("shape", [(5,), (4, 5)], ids=["1 axis", "2 axes"])
def test_matches_torch(shape, affine, dtype, rng):
    x = (rng.standard_normal((3, 4, 5)) * 2 + 1).astype(dtype)
    w = rng.uniform(0.5, 1.5, shape).astype(dtype) if affine in ("both", "weight") else None
    b = rng.standard_normal(shape).astype(dtype) if affine in ("both", "bias") else None
    _check(x, shape, w, b, rng=rng)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_long_rows_and_many_rows(dtype, rng):
    """Rows longer than the kernel's 1024-element blocks, and enough rows for both threads."""
    x = (rng.standard_normal((6, 3000)) * 3 + 10).astype(dtype)
    _check(x, (3000,), rng.uniform(0.5, 1.5, 3000).astype(dtype), rng.standard_normal(3000).astype(dtype), rng=rng)
    x = rng.standard_normal((700, 64)).astype(dtype)
    _check(x, (64,), rng.uniform(0.5, 1.5, 64).astype(dtype), rng.standard_normal(64).astype(dtype), eps=1e-3,
           rng=rng)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 0)])
def test_empty_rows_and_no_rows(shape, rng):
    """torch's answers: an empty output, zero gradients for weight and bias."""
    n = shape[1:]
    _check(np.zeros(shape), n, rng.standard_normal(n), rng.standard_normal(n), rng=rng)
    _check(np.zeros(shape, np.float32), n, rng=rng)


def test_one_element_rows(rng):
    """Each row is its own mean: xhat is 0, so out is the bias and x's gradient is 0."""
    x = rng.standard_normal((4, 1))
    w, b = rng.uniform(0.5, 1.5, 1), rng.standard_normal(1)
    _check(x, (1,), w, b, rng=rng)
    out, gx, gw, gb = _run(tc, x.astype(np.float32), (1,), w.astype(np.float32), b.astype(np.float32),
                           np.ones((4, 1), np.float32))
    assert np.array_equal(out, np.broadcast_to(b.astype(np.float32), (4, 1)))
    assert not np.any(gx) and not np.any(gw) and gb[0] == 4


def test_bias_only_first_order(rng):
    """The op database's bias-only sample, whose double backward torch cannot run."""
    for s in _layer_norm_samples(rng, np.float64):
        if len(s.args) == 3 and s.args[1] is None:
            _check(*s.args[:1], s.kwargs["normalized_shape"], None, s.args[2], rng=rng)
            return
    raise AssertionError("no bias-only sample")


def test_half_input_with_float32_parameters(rng):
    """torch's mixed types: a float16 input with float32 weight and bias computes in float32, rounds once."""
    x, w, b = rng.standard_normal((3, 8)), rng.uniform(0.5, 1.5, 8), rng.standard_normal(8)
    ours = F.layer_norm(tc.tensor(x, dtype=tc.float16), (8,), tc.tensor(w, dtype=tc.float32),
                        tc.tensor(b, dtype=tc.float32))
    theirs = TF.layer_norm(torch.tensor(x, dtype=torch.float16), (8,), torch.tensor(w, dtype=torch.float32),
                           torch.tensor(b, dtype=torch.float32))
    assert ours.dtype is tc.float16
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), atol=2e-3)


def test_grad_fn_is_torchs(rng):
    x = tc.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert F.layer_norm(x, (3,), tc.ones(3, dtype=x.dtype), tc.zeros(3, dtype=x.dtype)).grad_fn.name() == "NativeLayerNormBackward0"


@pytest.mark.parametrize("bad, message", [
    (lambda: F.layer_norm(tc.randn(2, 3), (4,)), r"normalized_shape=\[4\].*\[2, 3\]"),
    (lambda: F.layer_norm(tc.randn(2, 3), ()), "at least 1-dimensional"),
    (lambda: F.layer_norm(tc.randn(2, 3), (3,), tc.ones(2)), r"weight of shape \[2\] and normalized_shape = \[3\]"),
    (lambda: F.layer_norm(tc.randn(2, 3), (3,), None, tc.ones(1, 3)), r"bias of shape \[1, 3\]"),
    (lambda: F.layer_norm(tc.randn(2, 3), (3,), tc.ones(3, dtype=tc.float64)), "mixed dtypes: input float32, weight float64"),
    (lambda: F.layer_norm(tc.arange(6).reshape(2, 3), (3,)), "floating-point input, got int64"),
])
def test_bad_input_is_refused(bad, message):
    with pytest.raises(RuntimeError, match=message):
        bad()


def _spy(monkeypatch, name):
    calls = []
    real = getattr(_C, name)
    monkeypatch.setattr(_C, name, lambda *a: calls.append(1) or real(*a))
    return calls


def test_cpp_kernels_run_on_every_variant_and_isa(device, monkeypatch, rng):
    """On each cpp test device (cpp, cpp_kernels, cpp_fused) the op database's samples reach both
    kernels; and each ISA this CPU has gives torch's values."""
    if device != "cpp":
        pytest.skip("the C++ kernels belong to the cpp device")
    fwd, bwd = _spy(monkeypatch, "layer_norm_forward"), _spy(monkeypatch, "layer_norm_backward")
    for dtype in (np.float32, np.float64):
        for s in _layer_norm_samples(rng, dtype):
            x, *params = [None if a is None else tc.tensor(a, requires_grad=True) for a in s.args]
            before = len(fwd), len(bwd)
            F.layer_norm(x, s.kwargs["normalized_shape"], *params, eps=s.kwargs.get("eps", 1e-5)).sum().backward()
            assert (len(fwd), len(bwd)) == (before[0] + 1, before[1] + 1), (dtype, s.kwargs)
    isa = _C.isa()
    try:
        for name in ("generic", "avx2", "avx512"):
            if _C.set_isa(name):
                x = (rng.standard_normal((40, 70)) * 2 + 3).astype(np.float32)
                _check(x, (70,), rng.uniform(0.5, 1.5, 70).astype(np.float32), rng.standard_normal(70).astype(np.float32),
                       rng=rng)
    finally:
        _C.set_isa(isa)
