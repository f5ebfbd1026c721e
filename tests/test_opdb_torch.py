"""PyTorch as the oracle for every op database record: the record's own call, run
with `tc` and with `torch`, gives the same values and vector-Jacobian products,
float64 at rtol 1e-10 (this catches any float32 rounding inside float64 work,
such as a Python constant rounded on its way to a kernel) and float32 at 1e-6
relative plus 1e-6 absolute; and, in float64, the same second derivatives
(Hessian-vector products), which checks the values and the VJPs of the internal
backward ops (gelu_backward, softmax_backward, ...) that torch has no name for.

A record torch cannot run says why in `no_torch`; a sample it cannot run is marked
`torch=False`. Every other record is compared, so a new record is by default.
"""
import numpy as np
import pytest
from helpers import to_np
from opdb import all_ops

import tinygrad_chain as tc

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

OPS = all_ops()
COMPARED = [r for r in OPS if not r.no_torch]
SECOND_ORDER = [r for r in COMPARED if r.differentiable and r.gradgrad and not r.torch_forward_only]
TOLERANCES = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-6, atol=1e-6)}


def _np(t):
    # force: torch answers some zero second derivatives with a ZeroTensor, which only converts when forced
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else to_np(t)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class Run:
    """One sample on one library: leaves, outputs, and helpers to differentiate them."""

    def __init__(self, lib, record, sample, device):
        self.lib, self.device = lib, device
        diff = set(sample.diff) if sample.diff is not None else set(range(len(sample.args)))
        self.leaves = [self._tensor(a, i in diff and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
                       for i, a in enumerate(sample.args)]
        self.outs = _as_tuple(record.call(lib, *self.leaves, **sample.kwargs))
        self.wanted = [t for t in self.leaves if getattr(t, "requires_grad", False)]

    def _tensor(self, a, requires_grad):
        if self.lib is torch:
            return torch.tensor(a).requires_grad_(requires_grad)
        return tc.tensor(a, device=self.device, requires_grad=requires_grad)

    def dot(self, tensors, seed):
        """sum(t * v) over the tensors that require grad, v drawn from `seed` (the same draw on both libraries)."""
        rng = np.random.default_rng(seed)
        total = None
        for t in tensors:
            if t is None or not t.requires_grad:
                continue
            v = rng.standard_normal(tuple(t.shape)).astype(_np(t).dtype)
            term = (t * self._tensor(v, False)).sum()
            total = term if total is None else total + term
        return total

    def grads(self, loss, create_graph=False):
        if loss is None or not self.wanted:
            return [None] * len(self.wanted)
        return list(self.lib.autograd.grad(loss, self.wanted, create_graph=create_graph, allow_unused=True))


def _close(ours, theirs, where, rtol, atol):
    if theirs is None or ours is None:
        assert ours is None or not np.any(_np(ours)), f"{where}: nonzero where torch has none"
        assert theirs is None or not np.any(_np(theirs)), f"{where}: none where torch has a nonzero value"
        return
    ours, theirs = _np(ours), _np(theirs)
    assert ours.shape == theirs.shape, f"{where}: shape {ours.shape}, torch {theirs.shape}"
    if theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=where)


def _tolerance(record, dtype):
    tol = dict(TOLERANCES[dtype])
    tol.update(record.torch_tolerances.get(dtype, {}))
    return tol


def _torch_samples(record, dtype, rng, grad_only=False):
    samples = [(i, s) for i, s in enumerate(record.samples(rng, np.dtype(dtype).type)) if s.torch]
    assert samples, f"{record.name}: no sample could be compared with torch"
    if grad_only:
        samples = [(i, s) for i, s in samples if s.grad]
        if not samples:
            pytest.skip(f"{record.name}: forward-only record (every sample sits on a kink or jump)")
    return samples


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("record", COMPARED, ids=[r.name for r in COMPARED])
def test_matches_torch(record, dtype, device, rng):
    tol = _tolerance(record, dtype)
    for i, sample in _torch_samples(record, dtype, rng):
        where = f"{record.name} sample {i} ({dtype}, {sample.kwargs})"
        ours, theirs = Run(tc, record, sample, device), Run(torch, record, sample, device)
        assert len(ours.outs) == len(theirs.outs), f"{where}: {len(ours.outs)} outputs, torch {len(theirs.outs)}"
        for k, (a, b) in enumerate(zip(ours.outs, theirs.outs)):
            _close(a, b, f"{where} output {k}", **tol)
        if sample.grad and not record.torch_forward_only:
            pairs = zip(ours.grads(ours.dot(ours.outs, i)), theirs.grads(theirs.dot(theirs.outs, i)))
            for k, (a, b) in enumerate(pairs):
                _close(a, b, f"{where} gradient of differentiable input {k}", **tol)


@pytest.mark.parametrize("record", SECOND_ORDER, ids=[r.name for r in SECOND_ORDER])
def test_second_order_matches_torch(record, device, rng):
    """d/dx of sum(grad(sum(out * u)) * v), in float64: the VJP's own VJP, as torch computes it."""
    tol = _tolerance(record, "float64")
    for i, sample in _torch_samples(record, "float64", rng, grad_only=True):
        where = f"{record.name} sample {i} ({sample.kwargs})"
        runs = Run(tc, record, sample, device), Run(torch, record, sample, device)
        second = []
        for run in runs:
            first = run.grads(run.dot(run.outs, i), create_graph=True)
            second.append(run.grads(run.dot(first, 1000 + i)))
        for k, (a, b) in enumerate(zip(*second)):
            _close(a, b, f"{where} second derivative of differentiable input {k}", **tol)
