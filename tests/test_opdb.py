"""Generic tests over the op database: every record, every sample.

forward vs the NumPy reference (float32 and float64), gradcheck and
gradgradcheck in float64, gradient shapes and dtypes, and coverage: a
registered op without a record fails `test_every_registered_op_has_a_record`.
"""
import numpy as np
import pytest
from helpers import assert_close, to_np
from opdb import all_ops

import tinygrad_chain as tc
from tinygrad_chain.ops import REGISTRY

OPS = all_ops()
IDS = [r.name for r in OPS]
DIFF = [r for r in OPS if r.differentiable]
GRADGRAD = [r for r in DIFF if r.gradgrad]


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _diff_indices(sample):
    if sample.diff is not None:
        return set(sample.diff)
    return {i for i, a in enumerate(sample.args) if _is_float(a)}


def make_inputs(sample, device, requires_grad):
    """Tensors for the sample's arrays (float ones require grad when asked)."""
    diff = _diff_indices(sample)
    out = []
    for i, a in enumerate(sample.args):
        if isinstance(a, np.ndarray):
            out.append(tc.tensor(a, device=device, requires_grad=requires_grad and i in diff and _is_float(a)))
        else:
            out.append(a)
    return out


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _samples(record, dtype, rng, grad_only=False):
    samples = record.samples(rng, dtype)
    assert samples, f"{record.name}: no samples"
    return [(i, s) for i, s in enumerate(samples) if s.grad or not grad_only]


def _ref(record, sample):
    # the reference computes in float64, so it is the more exact of the two
    args = [a.astype(np.float64) if _is_float(a) else a for a in sample.args]
    return _as_tuple(record.ref(np, *args, **sample.kwargs))


# ---- coverage -------------------------------------------------------------------------
def test_every_registered_op_has_a_record():
    covered = set().union(*(r.ops for r in OPS))
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"registered ops without an op database record (add them to tests/opdb/): {missing}"


def test_records_name_registered_ops():
    unknown = sorted({op for r in OPS for op in r.ops} - set(REGISTRY))
    assert not unknown, f"op database records name ops that are not registered: {unknown}"


def test_records_have_a_reference_or_a_reason():
    for r in OPS:
        assert r.ref is not None or r.skip_reason, f"{r.name}: no NumPy reference and no reason"


# ---- forward ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("record", OPS, ids=IDS)
def test_forward_matches_reference(record, dtype, device, rng):
    if record.ref is None:
        pytest.skip(record.skip_reason)
    atol, rtol = (record.atol, record.rtol) if dtype == np.float32 else (record.atol64, record.rtol64)
    for i, sample in _samples(record, dtype, rng):
        inputs = make_inputs(sample, device, requires_grad=False)
        outs = _as_tuple(record.call(tc, *inputs, **sample.kwargs))
        refs = _ref(record, sample)
        assert len(outs) == len(refs), f"{record.name} sample {i}: {len(outs)} outputs, reference {len(refs)}"
        for k, (o, r) in enumerate(zip(outs, refs)):
            where = f"{record.name} sample {i} output {k} ({dtype.__name__})"
            assert isinstance(o, tc.Tensor), where
            assert o.device == device, f"{where}: output on {o.device}, inputs on {device}"
            r = np.asarray(r)
            if r.dtype == bool:
                assert o.dtype is tc.bool, f"{where}: dtype {o.dtype}, expected bool"
            elif r.dtype.kind in "iu":
                assert o.dtype is tc.int64, f"{where}: dtype {o.dtype}, expected int64"
            elif record.keeps_dtype and any(_is_float(a) for a in sample.args):
                # float32 in, float32 out: no silent float64 promotion
                want = tc.float32 if dtype == np.float32 else tc.float64
                assert o.dtype is want, f"{where}: dtype {o.dtype}, expected {want}"
            assert_close(o, r, atol=atol, rtol=rtol, msg=where)


@pytest.mark.parametrize("record", [r for r in OPS if not r.differentiable], ids=lambda r: r.name)
def test_nondifferentiable_outputs_never_require_grad(record, device, rng):
    for i, sample in _samples(record, np.float64, rng):
        inputs = make_inputs(sample, device, requires_grad=True)
        for o in _as_tuple(record.call(tc, *inputs, **sample.kwargs)):
            assert not o.requires_grad and o.grad_fn is None, f"{record.name} sample {i}"


# ---- gradients ------------------------------------------------------------------------------
def _func(record, sample):
    return lambda *xs: record.call(tc, *xs, **sample.kwargs)


@pytest.mark.parametrize("record", DIFF, ids=lambda r: r.name)
def test_gradcheck(record, device, rng):
    if not any(s.grad for s in record.samples(rng, np.float64)):
        pytest.skip(f"{record.name}: forward-only record (every sample sits on a kink or jump)")
    checked = 0
    for i, sample in _samples(record, np.float64, rng, grad_only=True):
        inputs = make_inputs(sample, device, requires_grad=True)
        if not any(isinstance(t, tc.Tensor) and t.requires_grad for t in inputs):
            continue
        kw = dict(record.gradcheck_kwargs)
        try:
            assert tc.autograd.gradcheck(_func(record, sample), tuple(inputs), **kw)
        except Exception as e:
            raise AssertionError(f"{record.name} sample {i} ({sample.kwargs}): {type(e).__name__}: {e}") from e
        checked += 1
    assert checked, f"{record.name}: no sample was gradchecked"


@pytest.mark.parametrize("record", GRADGRAD, ids=lambda r: r.name)
def test_gradgradcheck(record, device, rng):
    for i, sample in _samples(record, np.float64, rng, grad_only=True):
        inputs = make_inputs(sample, device, requires_grad=True)
        if not any(isinstance(t, tc.Tensor) and t.requires_grad for t in inputs):
            continue
        tc.manual_seed(i)  # gradgradcheck draws random grad_outputs
        kw = dict(record.gradcheck_kwargs)
        try:
            assert tc.autograd.gradgradcheck(_func(record, sample), tuple(inputs), **kw)
        except Exception as e:
            raise AssertionError(f"{record.name} sample {i} ({sample.kwargs}): {type(e).__name__}: {e}") from e


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("record", DIFF, ids=lambda r: r.name)
def test_gradient_shape_and_dtype(record, dtype, device, rng):
    """Every input gradient has its input's shape and dtype (float32 in, float32 grads)."""
    for i, sample in _samples(record, dtype, rng):
        inputs = make_inputs(sample, device, requires_grad=True)
        wanted = [(k, t) for k, t in enumerate(inputs) if isinstance(t, tc.Tensor) and t.requires_grad]
        if not wanted:
            continue
        outs = [o for o in _as_tuple(record.call(tc, *inputs, **sample.kwargs)) if o.requires_grad]
        assert outs, f"{record.name} sample {i}: no output requires grad"
        loss = None
        for o in outs:
            cot = tc.tensor(rng.standard_normal(o.shape).astype(dtype), device=device)
            term = (o * cot).sum()
            loss = term if loss is None else loss + term
        assert loss.dtype is (tc.float32 if dtype == np.float32 else tc.float64)
        loss.backward()
        for k, t in wanted:
            where = f"{record.name} sample {i} input {k}"
            if t.grad is None and k in record.zero_grad_inputs:
                continue
            assert t.grad is not None, f"{where}: no gradient"
            assert t.grad.shape == t.shape, f"{where}: gradient shape {t.grad.shape} != input shape {t.shape}"
            assert t.grad.dtype is t.dtype, f"{where}: gradient dtype {t.grad.dtype} != input dtype {t.dtype}"
            assert t.grad.device == device, f"{where}: gradient on {t.grad.device}"
            assert not t.grad.requires_grad, f"{where}: .grad requires grad without create_graph"
            assert np.all(np.isfinite(to_np(t.grad))), f"{where}: non-finite gradient"
