"""tc.linalg beyond the op database (tests/opdb/linalg.py holds the values, gradients and
second derivatives against NumPy and torch): torch's errors, result types, shapes, dtypes."""
import numpy as np
import pytest
import torch

import tinygrad_chain as tc
from helpers import to_np


def _raises_like_torch(call, match=None):
    """call(lib) raises for torch and for tc: the same exception type and message (or both match `match`)."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(tc)
    assert isinstance(ours.value, RuntimeError) == isinstance(theirs.value, RuntimeError)
    if match is None:
        assert str(ours.value) == str(theirs.value)
    else:
        assert ours.value.args and __import__("re").search(match, str(ours.value)), str(ours.value)
        assert __import__("re").search(match, str(theirs.value)), str(theirs.value)


def _t(lib, a, dtype=np.float32):
    return lib.tensor(np.asarray(a, dtype=dtype))


ERRORS = {
    "inv-not-square": lambda lib: lib.linalg.inv(_t(lib, np.ones((2, 3)))),
    "inv-1d": lambda lib: lib.linalg.inv(_t(lib, np.ones(3))),
    "inv-int": lambda lib: lib.linalg.inv(_t(lib, np.ones((2, 2)), np.int64)),
    "det-int": lambda lib: lib.linalg.det(_t(lib, np.ones((2, 2)), np.int64)),
    "det-not-square": lambda lib: lib.linalg.det(_t(lib, np.ones((2, 3)))),
    "slogdet-not-square": lambda lib: lib.linalg.slogdet(_t(lib, np.ones((2, 3)))),
    "cholesky-not-square": lambda lib: lib.linalg.cholesky(_t(lib, np.ones((2, 3)))),
    "eigh-not-square": lambda lib: lib.linalg.eigh(_t(lib, np.ones((2, 3)))),
    "eigh-uplo": lambda lib: lib.linalg.eigh(_t(lib, np.eye(3)), UPLO="X"),
    "svd-1d": lambda lib: lib.linalg.svd(_t(lib, np.ones(3))),
    "qr-1d": lambda lib: lib.linalg.qr(_t(lib, np.ones(3))),
    "qr-mode": lambda lib: lib.linalg.qr(_t(lib, np.ones((3, 3))), mode="x"),
    "solve-shapes": lambda lib: lib.linalg.solve(_t(lib, np.eye(2)), _t(lib, np.ones((3, 1)))),
    "solve-vector-shapes": lambda lib: lib.linalg.solve(_t(lib, np.eye(2)), _t(lib, np.ones(3))),
    "solve-dtypes": lambda lib: lib.linalg.solve(_t(lib, np.eye(2)), _t(lib, np.ones((2, 1)), np.float64)),
    "cross-length": lambda lib: lib.linalg.cross(_t(lib, np.ones(2)), _t(lib, np.ones(2))),
    "cross-ndim": lambda lib: lib.linalg.cross(_t(lib, np.ones(3)), _t(lib, np.ones((2, 3, 1)))),
    "cross-dtypes": lambda lib: lib.linalg.cross(_t(lib, np.ones(3), np.float64), _t(lib, np.ones(3))),
    "pinv-1d": lambda lib: lib.linalg.pinv(_t(lib, np.ones(3))),
    "lstsq-rows": lambda lib: lib.linalg.lstsq(_t(lib, np.ones((3, 2))), _t(lib, np.ones((4, 1)))),
    "matrix_norm-order": lambda lib: lib.linalg.matrix_norm(_t(lib, np.ones((3, 3))), ord=3),
    "matrix_norm-1d": lambda lib: lib.linalg.matrix_norm(_t(lib, np.ones(3))),
    "matrix_norm-dim": lambda lib: lib.linalg.norm(_t(lib, np.ones((2, 2))), ord="fro", dim=0),
    "norm-3d-ord": lambda lib: lib.linalg.norm(_t(lib, np.ones((2, 2, 2))), ord=2),
    "vector_norm-int": lambda lib: lib.linalg.vector_norm(_t(lib, np.ones((2, 2)), np.int64)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    _raises_like_torch(ERRORS[name])


@pytest.mark.parametrize("call,match", [
    (lambda lib: lib.linalg.inv(_t(lib, np.zeros((2, 2)))), r"^linalg\.inv: .*singular"),
    (lambda lib: lib.linalg.inv(_t(lib, np.zeros((3, 2, 2)))), r"^linalg\.inv: .*singular"),
    (lambda lib: lib.linalg.solve(_t(lib, np.zeros((2, 2))), _t(lib, np.ones(2))), r"linalg\.solve: The solver failed "
                                                                                       r"because the input matrix is "
                                                                                       r"singular\."),
    (lambda lib: lib.linalg.cholesky(_t(lib, -np.eye(3))), r"^linalg\.cholesky: The factorization could not be "
                                                           r"completed because the input is not positive-definite")])
def test_singular_and_indefinite_raise_linalg_error(call, match, device):
    if device == "cupy":
        pytest.skip("cuSOLVER reports no singular matrix: CuPy answers inf/nan, as torch on CUDA can")
    _raises_like_torch(call, match)
    with pytest.raises(tc.linalg.LinAlgError):
        call(tc)
    assert issubclass(tc.linalg.LinAlgError, RuntimeError)  # as torch.linalg.LinAlgError


def test_result_types_have_torch_field_names(rng):
    a = tc.tensor(rng.standard_normal((4, 3)))
    sq = tc.tensor(rng.standard_normal((3, 3)))
    for ours, theirs in [(tc.linalg.qr(a), ("Q", "R")), (tc.linalg.svd(a), ("U", "S", "Vh")),
                         (tc.linalg.eigh(sq + sq.mT), ("eigenvalues", "eigenvectors")),
                         (tc.linalg.slogdet(sq), ("sign", "logabsdet")),
                         (tc.linalg.lstsq(a, a), ("solution", "residuals", "rank", "singular_values"))]:
        assert ours._fields == theirs


@pytest.mark.parametrize("shape,full", [((4, 3), True), ((4, 3), False), ((3, 5), True), ((3, 5), False),
                                        ((2, 4, 3), True)])
def test_svd_shapes_and_reconstruction(shape, full, rng):
    x = rng.standard_normal(shape)
    u, s, vh = tc.linalg.svd(tc.tensor(x), full_matrices=full)
    tu, ts, tvh = torch.linalg.svd(torch.tensor(x), full_matrices=full)
    assert (u.shape, s.shape, vh.shape) == (tu.shape, ts.shape, tvh.shape)
    k = s.shape[-1]
    back = (to_np(u)[..., :k] * to_np(s)[..., None, :]) @ to_np(vh)[..., :k, :]
    np.testing.assert_allclose(back, x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode,shape", [("reduced", (4, 3)), ("complete", (4, 3)), ("r", (4, 3)), ("reduced", (3, 5)),
                                        ("complete", (2, 3, 5))])
def test_qr_shapes_match_torch(mode, shape, rng):
    x = rng.standard_normal(shape)
    q, r = tc.linalg.qr(tc.tensor(x), mode=mode)
    tq, tr = torch.linalg.qr(torch.tensor(x), mode=mode)
    assert (q.shape, r.shape) == (tq.shape, tr.shape)
    if mode != "r":
        np.testing.assert_allclose(to_np(q) @ to_np(r), x, rtol=1e-12, atol=1e-12)


def test_qr_complete_of_a_tall_matrix_has_torch_backward_error(rng):
    a = tc.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    q, r = tc.linalg.qr(a, mode="complete")
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows > ncols"):
        (q.sum() + r.sum()).backward()


def test_float32_in_float32_out(rng):
    a = tc.tensor(rng.standard_normal((3, 3)).astype(np.float32))
    spd = a @ a.mT + 3 * tc.eye(3)
    outs = [tc.linalg.inv(a), tc.linalg.det(a), *tc.linalg.slogdet(a), tc.linalg.cholesky(spd), *tc.linalg.qr(a),
            *tc.linalg.svd(a), *tc.linalg.eigh(spd), tc.linalg.pinv(a), tc.linalg.solve(a, a),
            tc.linalg.lstsq(a, a).solution, tc.linalg.cross(a, a), tc.linalg.norm(a), tc.linalg.matrix_norm(a, "nuc")]
    assert all(o.dtype is tc.float32 for o in outs)


def test_norm_dtype_argument_computes_in_that_dtype(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    for fn, kw in ((tc.linalg.vector_norm, {}), (tc.linalg.matrix_norm, {}), (tc.linalg.norm, {"ord": "nuc"})):
        out = fn(tc.tensor(x), dtype=tc.float64, **kw)
        ref = getattr(torch.linalg, fn.__name__)(torch.tensor(x), dtype=torch.float64, **kw)
        assert out.dtype is tc.float64
        np.testing.assert_allclose(to_np(out), ref.numpy(), rtol=1e-12)


def test_cholesky_upper_and_solve_left_false_match_torch(rng):
    m = rng.standard_normal((2, 3, 3))
    spd = m @ np.swapaxes(m, -1, -2) + 3 * np.eye(3)
    np.testing.assert_allclose(to_np(tc.linalg.cholesky(tc.tensor(spd), upper=True)),
                               torch.linalg.cholesky(torch.tensor(spd), upper=True).numpy(), rtol=1e-12)
    b = rng.standard_normal((4, 3))
    np.testing.assert_allclose(to_np(tc.linalg.solve(tc.tensor(spd), tc.tensor(b), left=False)),
                               torch.linalg.solve(torch.tensor(spd), torch.tensor(b), left=False).numpy(), rtol=1e-12)


def test_eigvalsh_gradient_at_a_repeated_eigenvalue_is_finite():
    """Only the eigenvalues used: no division by their (zero) gap, as torch."""
    a = np.diag([2.0, 2.0, 5.0])
    x = tc.tensor(a, requires_grad=True)
    tc.linalg.eigh(x).eigenvalues.sum().backward()
    t = torch.tensor(a, requires_grad=True)
    torch.linalg.eigh(t).eigenvalues.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), t.grad.numpy(), atol=1e-12)


def test_lstsq_reports_like_torch_per_driver(rng):
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    for driver in (None, "gelsy", "gelsd", "gelss", "gels"):
        ours = tc.linalg.lstsq(tc.tensor(a), tc.tensor(b), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        for k in ("solution", "residuals", "rank", "singular_values"):
            o, t = getattr(ours, k), getattr(theirs, k)
            assert tuple(o.shape) == tuple(t.shape), (driver, k)
            np.testing.assert_allclose(to_np(o), t.numpy(), rtol=1e-10, err_msg=f"{driver} {k}")


def test_gradients_flow_on_every_device(device, rng):
    """A loss through each function reaches the input on the device under test."""
    a = tc.tensor(rng.standard_normal((3, 3)) + 3 * np.eye(3), requires_grad=True)
    loss = (tc.linalg.inv(a).sum() + tc.linalg.det(a) + tc.linalg.slogdet(a).logabsdet + tc.linalg.svdvals(a).sum()
            + tc.linalg.pinv(a).sum() + tc.linalg.matrix_norm(a, 2) + tc.linalg.cross(a, a.flip(0)).sum()
            + tc.linalg.solve(a, a.sum(0)).sum() + tc.linalg.cholesky(a @ a.mT).sum() + tc.linalg.qr(a).R.sum())
    loss.backward()
    assert a.grad._b.name == device and np.isfinite(to_np(a.grad)).all()  # the backend: "cpu" names cpp
