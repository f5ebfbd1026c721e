"""torch's long tail that real scripts use (scatter, index_select, nonzero, repeat_interleave, meshgrid, normal,
tensordot, in-place spellings, ...), against torch: each case runs the same code with `lib` = tinygrad_chain
and `lib` = torch on the same inputs, and compares the values and, where the input requires grad, the
gradients of a weighted sum of the outputs.
"""
import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close, to_np

torch = pytest.importorskip("torch")

IDX = [[0, 1], [2, 3], [4, 0], [1, 1]]

# name -> fn(lib, x) with x a (4, 5) float tensor that requires grad (a clone is taken before in-place ops)
CASES = {
    "scatter_src": lambda lib, x: x.scatter(1, lib.tensor([[0, 1], [2, 3], [4, 0], [3, 2]]), x[:, 1:3] * 2),
    "scatter_value": lambda lib, x: x.scatter(0, lib.tensor([[0, 3, 1, 2, 0]]), 0.5),
    "scatter_add": lambda lib, x: x.scatter_add(1, lib.tensor(IDX), x[:, :2] * 3),
    "scatter_reduce_sum": lambda lib, x: x.scatter_reduce(1, lib.tensor(IDX), x[:, :2], "sum"),
    "scatter_reduce_mean": lambda lib, x: x.scatter_reduce(1, lib.tensor(IDX), x[:, 2:4], "mean",
                                                           include_self=False),
    "index_select": lambda lib, x: x.index_select(1, lib.tensor([4, 0, 0])),
    "torch_index_select": lambda lib, x: lib.index_select(x, 0, lib.tensor([3, 1])),
    "index_add": lambda lib, x: x.index_add(0, lib.tensor([0, 2, 2]), x[1:4] * 2, alpha=0.5),
    "index_copy": lambda lib, x: x.index_copy(1, lib.tensor([4, 1]), x[:, :2] * 3),
    "index_fill": lambda lib, x: x.index_fill(1, lib.tensor([0, 3]), -1.0),
    "index_put_acc": lambda lib, x: x.index_put((lib.tensor([0, 0, 2]), lib.tensor([1, 1, 4])), x[0, :3] * 2,
                                                accumulate=True),
    "select": lambda lib, x: x.select(1, -2),
    "take_along_dim": lambda lib, x: lib.take_along_dim(x, x.argmax(1, keepdim=True), dim=1),
    "take": lambda lib, x: lib.take(x, lib.tensor([[0, 19], [7, 7]])),
    "masked_select": lambda lib, x: lib.masked_select(x, x > 0.2),
    "repeat_interleave": lambda lib, x: x.repeat_interleave(2, dim=0),
    "repeat_interleave_t": lambda lib, x: x.repeat_interleave(lib.tensor([1, 0, 2, 1, 3]), dim=1),
    "cumprod": lambda lib, x: lib.cumprod(x, dim=1),
    "cummax_cummin": lambda lib, x: lib.cummax(x, 1).values + x.cummin(0)[0] * 2
    + lib.cummax(x.round(), 1).indices.float(),
    "logcumsumexp": lambda lib, x: lib.logcumsumexp(x * 3, dim=1),
    "atan_asin_acos": lambda lib, x: lib.atan(x * 3) + (x * 0.4).asin() + lib.acos(x * 0.4),
    "atan2": lambda lib, x: lib.atan2(x, x.flip(0)) + lib.atan2(x, lib.tensor(-0.5)),
    "diff": lambda lib, x: lib.diff(x, n=2, dim=0),
    "unfold": lambda lib, x: x.unfold(1, 2, 2),
    "movedim": lambda lib, x: lib.movedim(x.reshape(2, 2, 5), (0, 1), (2, 0)),
    "tile": lambda lib, x: x.tile((2,)),
    "trunc_frac": lambda lib, x: (x * 3).trunc() + (x * 3).frac() * 2,
    "fmod": lambda lib, x: lib.fmod(x * 5, 1.5),
    "logs_exps": lambda lib, x: x.abs().log2() + x.abs().log10() + x.exp2() + x.sinh() + x.cosh(),
    "lerp_addc": lambda lib, x: lib.lerp(x, x.flip(0), 0.3) + x.addcmul(x, x, value=0.5) + x.addcdiv(x, x + 3),
    "xlogy_hypot": lambda lib, x: lib.xlogy(x.abs(), x.abs() + 1) + lib.hypot(x, x.flip(1)),
    "nan_to_num": lambda lib, x: lib.nan_to_num(x.log(), nan=-2.0) + lib.nan_to_num((x / (x > 0)).detach(), posinf=9.0),
    "addmm": lambda lib, x: lib.addmm(x[:, :4], x, x.t()[:, :4] + 0, beta=0.5, alpha=2),
    "baddbmm": lambda lib, x: lib.baddbmm(x[:2, :2].unsqueeze(0), x[:2].unsqueeze(0), x[2:].t().unsqueeze(0)),
    "tensordot": lambda lib, x: lib.tensordot(x.reshape(2, 2, 5), x.reshape(2, 5, 2), dims=([0, 2], [0, 1])),
    "cdist": lambda lib, x: lib.cdist(x, x[:2] + 1),
    "kron_cross": lambda lib, x: lib.kron(x[:2, :2], x[2:, :2]).sum() + lib.cross(x[:, :3], x[:, 2:], dim=1),
    "var_mean": lambda lib, x: lib.stack(lib.var_mean(x, dim=0)) + lib.stack(lib.std_mean(x, 1, keepdim=True)).sum(),
    "quantile": lambda lib, x: lib.quantile(x, lib.tensor([0.25, 0.5]), dim=1, keepdim=True),
    "hstack_vstack": lambda lib, x: lib.hstack([x, x]).sum(0) + lib.vstack([x[0], x[1]]).sum(),
    "meshgrid_xy": lambda lib, x: lib.stack(lib.meshgrid(x[0], x[1, :3], indexing="xy")),
    "round_decimals": lambda lib, x: (x * 10).round(decimals=1),
    "div_trunc": lambda lib, x: x.div(0.3, rounding_mode="trunc") + lib.div(x, 0.3, rounding_mode="floor"),
    "inplace_chain": lambda lib, x: x.clone().mul_(2).masked_fill_(x > 0.5, 0.0).clamp_min_(0.3).add_(1).log_(),
    "inplace_scatter": lambda lib, x: x.clone().scatter_(1, lib.tensor(IDX), 1.0).index_add_(
        0, lib.tensor([1, 1]), x[:2]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch(name, rng):
    fn = CASES[name]
    v = rng.standard_normal((4, 5)).astype(np.float32)
    ours_x, theirs_x = tc.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    ours, theirs = fn(tc, ours_x), fn(torch, theirs_x)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype)[6:]
    assert_close(ours.detach(), theirs.detach().numpy(), atol=1e-5, rtol=1e-5, msg=name)
    if theirs.requires_grad:
        w = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
        (ours * tc.tensor(w)).sum().backward()
        (theirs * torch.tensor(w)).sum().backward()
        assert_close(ours_x.grad, theirs_x.grad.numpy(), atol=1e-4, rtol=1e-4, msg=name + " grad")


# host-side results (integral, data-dependent shapes), compared as values
HOST = {
    "nonzero": lambda lib: (lib.tensor([[0., 1.], [2., 0.]]) > 0).nonzero(),
    "nonzero_tuple": lambda lib: lib.stack(lib.nonzero(lib.tensor([0, 3, 0, 4]), as_tuple=True)),
    "argwhere": lambda lib: lib.argwhere(lib.tensor([[1, 0], [0, 1]])),
    "unique": lambda lib: lib.stack(lib.unique(lib.tensor([3, 1, 3, 2, 1]), return_counts=True)),
    "unique_inverse": lambda lib: lib.unique(lib.tensor([[3, 1], [3, 2]]), return_inverse=True)[1],
    "bincount": lambda lib: lib.bincount(lib.tensor([0, 1, 1, 4]), minlength=6),
    "bincount_weights": lambda lib: lib.bincount(lib.tensor([0, 1, 1]), weights=lib.tensor([0.5, 1., 2.])),
    "repeat_interleave_counts": lambda lib: lib.repeat_interleave(lib.tensor([2, 0, 3])),
    "count_nonzero": lambda lib: lib.count_nonzero(lib.tensor([[0, 1, 2], [0, 0, 3]]), dim=1),
    "searchsorted": lambda lib: lib.searchsorted(lib.tensor([1., 3., 5.]), lib.tensor([[0., 3.], [6., 3.]]),
                                                 right=True),
    "bucketize": lambda lib: lib.bucketize(lib.tensor([2., 6., 1.]), lib.tensor([1., 3., 5.])),
    "tril_indices": lambda lib: lib.tril_indices(3, 4, offset=1),
    "triu_indices": lambda lib: lib.triu_indices(3, 3),
    "cartesian_prod": lambda lib: lib.cartesian_prod(lib.tensor([1, 2]), lib.tensor([3, 4, 5])),
    "isin": lambda lib: lib.isin(lib.tensor([1, 2, 3, 4]), lib.tensor([2, 4])),
    "isclose": lambda lib: lib.isclose(lib.tensor([1., 2., float("nan")]), lib.tensor([1. + 1e-9, 2.1, float("nan")]),
                                       equal_nan=True),
    "isfinite": lambda lib: lib.isfinite(lib.tensor([1., float("inf"), float("nan")])),
    "histc": lambda lib: lib.histc(lib.tensor([0.1, 0.5, 0.5, 0.9, 2.0]), bins=4, min=0, max=1),
    "logspace": lambda lib: lib.logspace(0, 3, 4, base=2),
    "pow_number_base": lambda lib: lib.pow(2, lib.tensor([1., 3.])),
    "atan2_axes": lambda lib: lib.atan2(lib.tensor([0., 1., -1., 0., 0., 2.]), lib.tensor([0., 0., 0., -1., 1., -2.])),
    "tensor_split": lambda lib: lib.cat([t.sum(0, keepdim=True) for t in lib.tensor_split(lib.arange(10.), 3)]),
    "tensor_split_indices": lambda lib: lib.stack([t.sum() for t in lib.tensor_split(lib.arange(10.), [2, 7])]),
    "column_stack": lambda lib: lib.column_stack([lib.arange(3.), lib.ones(3, 2)]),
    "as_tensor": lambda lib: lib.as_tensor(np.arange(4), dtype=lib.float32),
    "stride": lambda lib: lib.tensor(lib.zeros(2, 3, 4).stride()),
    "div_int_trunc": lambda lib: lib.div(lib.tensor([7, -7]), 2, rounding_mode="trunc"),
    "fmod_int": lambda lib: lib.fmod(lib.tensor([7, -7]), 3),
    "fill_diagonal": lambda lib: lib.zeros(3, 4).fill_diagonal_(2.0),
    "type_as": lambda lib: lib.tensor([1.7, -1.2]).type_as(lib.tensor([1])),
}


@pytest.mark.parametrize("name", sorted(HOST))
def test_host_results_as_torch(name):
    ours, theirs = HOST[name](tc), HOST[name](torch)
    assert ours.dtype.name == str(theirs.dtype)[6:], (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(to_np(ours), theirs.numpy(), rtol=1e-6, err_msg=name)


def test_as_tensor_shares_numpy_memory_and_returns_a_tensor_itself():
    a = np.zeros(3, dtype=np.float32)
    t = tc.as_tensor(a)
    a[0] = 5
    assert t[0].item() == 5
    x = tc.ones(2)
    assert tc.as_tensor(x) is x


def test_normal_and_bernoulli_draw_their_distributions():
    tc.manual_seed(0)
    draws = tc.normal(tc.full((20000,), 3.0), 2.0)
    assert abs(draws.mean().item() - 3) < 0.06 and abs(draws.std().item() - 2) < 0.06
    assert tc.normal(0.0, 1.0, size=(2, 3)).shape == (2, 3)
    p = tc.bernoulli(tc.full((20000,), 0.25))
    assert set(np.unique(to_np(p))) <= {0.0, 1.0} and abs(p.mean().item() - 0.25) < 0.02
    assert tc.randint_like(tc.zeros(3, 2), 5).shape == (3, 2)


def test_scatter_errors_name_the_shapes():
    x = tc.zeros(2, 3)
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        x.scatter(1, tc.tensor([0, 1]), 1.0)
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.index_select(0, tc.tensor([0.0]))


def test_inplace_spelling_on_a_leaf_that_requires_grad_is_refused():
    x = tc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="exp_: a leaf Variable that requires grad"):
        x.exp_()


def test_iinfo_and_printoptions():
    assert (tc.iinfo(tc.int64).max, tc.iinfo(tc.int32).min) == (2 ** 63 - 1, -2 ** 31)
    try:
        tc.set_printoptions(precision=2)
        assert repr(tc.tensor([1.2345, 2.0])).startswith("tensor([1.23, 2.00]")
    finally:
        tc.set_printoptions(profile="default")
    assert repr(tc.tensor([1.2345, 2.0])).startswith("tensor([1.2345, 2.0000]")
