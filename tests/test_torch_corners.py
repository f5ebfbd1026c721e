"""Corners real scripts reach, against torch itself: gradients at the edge of a formula's domain,
argument spellings, operands torch refuses."""
import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc

torch = pytest.importorskip("torch")


def _grads(lib, fn, *arrays):
    xs = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
    out = fn(lib, *xs)
    out.backward(lib.ones_like(out) * 0.7)
    return [out] + [x.grad for x in xs]


def _same_as_torch(fn, *arrays):
    for ours, theirs in zip(_grads(tc, fn, *arrays), _grads(torch, fn, *arrays)):
        np.testing.assert_allclose(to_np(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn", [lambda m, x: x.std(1), lambda m, x: x.std(), lambda m, x: x.std(0, keepdim=True),
                                lambda m, x: x[:, :1].expand(2, 3).std(1, correction=0)],
                         ids=["dim", "all", "keepdim", "expanded"])
def test_std_of_constant_values_has_gradient_zero(fn):
    # sqrt's derivative at 0 is inf: torch's std_backward gives 0 there (was NaN)
    _same_as_torch(fn, np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]))
    _same_as_torch(fn, np.full((2, 3), -1.5))


def test_pow_with_exponent_zero_at_base_zero():
    # d/dx x ** y at x = 0, y = 0 is 0 (torch), not 0 * 0 ** -1 = NaN
    _same_as_torch(lambda m, x, y: x ** y, np.array([0.0, 0.0, 2.0, 3.0]), np.array([0.0, 2.0, 0.0, 1.5]))
    _same_as_torch(lambda m, x, y: x ** y, np.array([[0.0], [1.5]]), np.array([0.0, 0.5]))


@pytest.mark.parametrize("call", [lambda x: x.flip(0, 1), lambda x: x.flip((0, -1)), lambda x: x.flip([1]),
                                  lambda x: x.flip(-2), lambda x: x.flip(dims=(1,))])
def test_flip_takes_torchs_spellings(call):
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(to_np(call(tc.tensor(a))), call(torch.tensor(a)).numpy())


@pytest.mark.parametrize("call", [lambda b: b // b, lambda b: b % True, lambda b: b ** b],
                         ids=["floordiv", "remainder", "pow"])
def test_arithmetic_torch_refuses_on_two_bools_raises(call):
    # NumPy computed these in int8, a dtype tinygrad_chain does not have: the result broke on first use
    with pytest.raises(RuntimeError):
        call(torch.tensor([True, False]))
    with pytest.raises(RuntimeError, match="bool"):
        call(tc.tensor([True, False]))
    np.testing.assert_array_equal(to_np(tc.tensor([True, False]) ** 2), [1, 0])  # with a number: integer


_MIXED_INDEXES = [lambda m: (0, slice(None), m.tensor([1, 3, 3])), lambda m: (m.tensor([2, 0]), slice(1, 3), -1),
                  lambda m: (None, m.tensor([0, 2]), slice(None), 1), lambda m: (1, Ellipsis, None, [0, 3], m.tensor([4])),
                  lambda m: (0, slice(None), m.tensor([True, False, True, True, False])),
                  lambda m: (slice(None), 2, m.tensor([0, 1])), lambda m: (m.tensor([1]), slice(None), m.tensor([2, 0]))]


@pytest.mark.parametrize("index", _MIXED_INDEXES)
def test_integers_beside_index_arrays_lay_out_as_torch(index):
    # torch applies integers first: x[0, :, idx] has idx's axis last (NumPy's rule put it first)
    a = np.arange(60.0).reshape(3, 4, 5) / 7

    def run(m):
        x = m.tensor(a, dtype=m.float64, requires_grad=True)
        got = x[index(m)]
        got.backward(m.tensor(np.arange(got.numel(), dtype=np.float64).reshape(tuple(got.shape))))
        y = x.detach() * 1
        v = m.tensor(np.arange(got.shape[-1], dtype=np.float64) + 100, requires_grad=True)
        y[index(m)] = v * 2  # broadcast along torch's layout
        (y * y).sum().backward()
        return got, x.grad, y, v.grad

    for ours, theirs in zip(run(tc), run(torch)):
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(to_np(ours), theirs.detach().numpy())


_BITWISE = [lambda a: a & 6, lambda a: 6 | a, lambda a: a ^ a.flip(0), lambda a: ~a, lambda a: a & a.flip(0),
            lambda a: True ^ a]


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
@pytest.mark.parametrize("call", _BITWISE)
def test_bitwise_operators_as_torch(dtype, call):
    # & | ^ ~ were logical on integer tensors: tensor([3, 5]) & 1 gave [True, True], torch [1, 1]
    values = np.array([3, -5, 0, 6, 9]) if dtype != "bool" else np.array([True, False, True, True, False])
    ours = call(tc.tensor(values).to(getattr(tc, dtype)))
    theirs = call(torch.tensor(values).to(getattr(torch, dtype)))
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(to_np(ours), theirs.numpy())


def test_bitwise_operators_refuse_floats():
    with pytest.raises(RuntimeError):
        torch.ones(2) & torch.ones(2)
    with pytest.raises(RuntimeError, match="bitwise_and.*floating"):
        tc.ones(2) & tc.ones(2)
    np.testing.assert_array_equal(to_np(tc.ones(2).logical_and(tc.tensor([0.0, 2.0]))), [False, True])
