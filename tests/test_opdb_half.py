"""The op database in float16 and bfloat16, against torch 2.13 on the CPU.

Each record torch compares (tests/test_opdb_torch.py) runs its samples in both
half dtypes: the inputs are drawn in float32 and rounded to the half dtype, so
both libraries see the same values; outputs, and the vector-Jacobian products
of sum(out * v) with v rounded the same way, are compared.

Tolerance: 2 eps of the dtype (float16 2**-9, bfloat16 2**-6) relative to each
value, plus 2 eps of the output's largest magnitude. Both libraries compute each
op in float32 and round it to the half dtype once, so one op differs from torch
by at most about one unit in the last place: where its float32 sums add in
another order, or where a composite (a VJP made of several ops, std = sqrt(var))
rounds between steps that one torch kernel fuses. The absolute part covers
values that cancel to near zero (a sum of signed terms, a gradient), whose error
follows the magnitude of the terms, not of the result. Measured on the numpy,
cpp, cpp_kernels and cpp_fused devices: at most 1.6 eps.

Records torch cannot run in a half dtype on the CPU are listed in HALF_SKIPS with
torch's reason; test_half_skips_still_hold checks that torch still refuses them.
"""
import numpy as np
import pytest
from helpers import to_np
from opdb import all_ops

import tinygrad_chain as tc

torch = pytest.importorskip("torch")
ml_dtypes = pytest.importorskip("ml_dtypes")
torch.set_num_threads(1)

HALF = ("float16", "bfloat16")
NATIVE = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
ULPS = 2

# torch 2.13 has no CPU kernel for these in float16/bfloat16 (its own error, abridged)
_LAPACK = "torch's CPU linear algebra runs LAPACK, which has no half precision: {}"
HALF_SKIPS = {
    "linalg_inv": _LAPACK.format("linalg.inv: Low precision dtypes not supported"),
    "linalg_solve": _LAPACK.format('"lu_cpu" not implemented for Half/BFloat16'),
    "linalg_det": _LAPACK.format('"lu_cpu" not implemented'),
    "linalg_det_singular": _LAPACK.format('"lu_cpu" not implemented'),
    "linalg_slogdet": _LAPACK.format("linalg.slogdet: Low precision dtypes not supported"),
    "linalg_cholesky": _LAPACK.format('"cholesky_cpu" not implemented'),
    "linalg_qr": _LAPACK.format('"geqrf_cpu" not implemented'),
    "linalg_svd": _LAPACK.format('"linalg_svd_cpu" not implemented'),
    "linalg_svdvals": _LAPACK.format('"linalg_svd_cpu" not implemented'),
    "linalg_eigh": _LAPACK.format('"linalg_eigh_cpu" not implemented'),
    "linalg_eigvalsh": _LAPACK.format('"linalg_eigh_cpu" not implemented'),
    "linalg_pinv": _LAPACK.format("linalg.pinv expects float, double, cfloat or cdouble"),
    "linalg_lstsq": _LAPACK.format("lstsq handles only float and double"),
    "linalg_lstsq_residuals": _LAPACK.format("lstsq handles only float and double"),
    "linalg_lstsq_rank_and_singular_values": _LAPACK.format("lstsq handles only float and double"),
}
# records of which torch runs some samples: these are skipped (the spectral norms need an SVD)
_SVD_ORD = "torch: linalg.matrix_norm: Low precision dtypes not supported (ord 'nuc', 2 and -2 need an SVD)"
HALF_SAMPLE_SKIPS = {"linalg_matrix_norm": _SVD_ORD, "linalg_norm": _SVD_ORD}


def _sample_skipped(record, sample):
    return record.name in HALF_SAMPLE_SKIPS and sample.kwargs.get("ord") in ("nuc", 2, -2)


OPS = [r for r in all_ops() if not r.no_torch]
COMPARED = [r for r in OPS if r.name not in HALF_SKIPS]
SKIPPED = [r for r in OPS if r.name in HALF_SKIPS or r.name in HALF_SAMPLE_SKIPS]


def _rounded(sample, dtype):
    """The sample with its float arrays rounded to the half dtype (both libraries get these values)."""
    return tuple(a.astype(NATIVE[dtype]) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in sample.args)


def _is_half_array(a):
    return isinstance(a, np.ndarray) and a.dtype in NATIVE.values()


def _tensor(lib, a, dtype, requires_grad, device):
    if lib is tc:
        return tc.tensor(a, device=device, requires_grad=requires_grad)
    if _is_half_array(a):  # torch reads no ml_dtypes array: through float32, exactly
        return torch.tensor(a.astype(np.float32)).to(getattr(torch, dtype)).requires_grad_(requires_grad)
    return torch.tensor(a)


def _values(t):
    """float32 (or integer/bool) NumPy values of a tensor of either library."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.is_floating_point() else t).numpy()
    return to_np(t.float() if t.dtype.is_floating_point else t)


def _run(lib, record, args, kwargs, diff, dtype, device, seed):
    """The record's call on one library -> (outputs, VJPs of sum(out * v) when `seed` draws v)."""
    diff = set(diff) if diff is not None else set(range(len(args)))
    leaves = [_tensor(lib, a, dtype, i in diff and _is_half_array(a), device) if isinstance(a, np.ndarray) else a
              for i, a in enumerate(args)]
    outs = record.call(lib, *leaves, **kwargs)
    outs = tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
    wanted = [t for t in leaves if getattr(t, "requires_grad", False)]
    grads = []
    if wanted and seed is not None:
        rng, total = np.random.default_rng(seed), None
        for t in outs:
            if t is None or not t.requires_grad:
                continue
            v = rng.standard_normal(tuple(t.shape)).astype(np.float32).astype(NATIVE[dtype])
            term = (t * _tensor(lib, v, dtype, False, device)).sum()
            total = term if total is None else total + term
        if total is not None:
            grads = list(lib.autograd.grad(total, wanted, allow_unused=True))
    return outs, grads


def _close(ours, theirs, dtype, where):
    if ours is None or theirs is None:
        assert ours is None or not np.any(_values(ours)), f"{where}: nonzero where torch has none"
        assert theirs is None or not np.any(_values(theirs)), f"{where}: none where torch has a nonzero value"
        return
    if isinstance(ours, tc.Tensor) and ours.dtype.is_floating_point:
        assert ours.dtype is getattr(tc, dtype), f"{where}: dtype {ours.dtype}, torch {theirs.dtype}"
    a, b = _values(ours), _values(theirs)
    assert a.shape == b.shape, f"{where}: shape {a.shape}, torch {b.shape}"
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=where)
        return
    eps = tc.finfo(getattr(tc, dtype)).eps
    finite = b[np.isfinite(b)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    np.testing.assert_allclose(a, b, rtol=ULPS * eps, atol=ULPS * eps * scale, err_msg=where)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("record", COMPARED, ids=[r.name for r in COMPARED])
def test_half_matches_torch(record, dtype, device, rng):
    samples = [(i, s) for i, s in enumerate(record.samples(rng, np.float32))
               if s.torch and not _sample_skipped(record, s)]
    assert samples, f"{record.name}: no sample could be compared with torch"
    for i, sample in samples:
        args = _rounded(sample, dtype)
        grad = sample.grad and not record.torch_forward_only
        where = f"{record.name} sample {i} ({dtype}, {sample.kwargs})"
        runs = [_run(lib, record, args, sample.kwargs, sample.diff, dtype, device, i if grad else None)
                for lib in (tc, torch)]
        (outs, grads), (t_outs, t_grads) = runs
        assert len(outs) == len(t_outs), f"{where}: {len(outs)} outputs, torch {len(t_outs)}"
        for k, (a, b) in enumerate(zip(outs, t_outs)):
            _close(a, b, dtype, f"{where} output {k}")
        for k, (a, b) in enumerate(zip(grads, t_grads)):
            if a is not None:
                assert a.dtype is getattr(tc, dtype), f"{where}: gradient {k} is {a.dtype}, its input {dtype}"
            _close(a, b, dtype, f"{where} gradient of differentiable input {k}")


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("record", SKIPPED, ids=[r.name for r in SKIPPED])
def test_half_skips_still_hold(record, dtype, device, rng):
    """torch still refuses every skipped record (or sample) in this dtype: when it learns one, compare it."""
    if device != "numpy":
        pytest.skip("device-independent: the numpy param covers it")
    skipped = [s for s in record.samples(rng, np.float32)
               if s.torch and (record.name in HALF_SKIPS or _sample_skipped(record, s))]
    assert skipped
    for sample in skipped:
        with pytest.raises((RuntimeError, NotImplementedError)):
            _run(torch, record, _rounded(sample, dtype), sample.kwargs, sample.diff, dtype, device, None)
