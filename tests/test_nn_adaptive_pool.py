"""AdaptiveMaxPool1d/2d and F.adaptive_max_pool1d/2d against torch 2.13 (CPU): outputs, indices,
input gradients (to the one argmax torch picks, ties and NaN included), gradcheck and
gradgradcheck, and the errors bad input gets."""
import numpy as np
import pytest
import torch
from helpers import assert_close, to_np
from test_nn_layers import R, _distinct, compare

import tinygrad_chain as tc

nn, F = tc.nn, tc.nn.functional
TF = torch.nn.functional


@pytest.mark.parametrize("shape,size", [((2, 3, 8, 6), (4, 3)), ((2, 3, 7, 6), (3, 4)), ((2, 3, 7, 6), 5),
                                        ((2, 3, 7, 6), (3, None)), ((2, 3, 7, 6), (None, 4)),
                                        ((3, 7, 5), (2, 3)), ((2, 2, 4, 3), 6), ((2, 3, 7, 6), 1),
                                        ((1, 2, 9, 9), (9, 9))])
def test_adaptive_max_pool2d(rng, shape, size):
    x = _distinct(rng, *shape)
    compare(nn.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size), x)
    out, idx = compare(nn.AdaptiveMaxPool2d(size, True), torch.nn.AdaptiveMaxPool2d(size, True), x)
    ref = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)[1]
    assert idx.dtype == tc.int64 and to_np(idx).tolist() == ref.tolist()


@pytest.mark.parametrize("shape,size", [((2, 3, 10), 4), ((2, 3, 12), 4), ((3, 7), 3), ((2, 3, 5), 8),
                                        ((2, 3, 5), (2,))])
def test_adaptive_max_pool1d(rng, shape, size):
    x = _distinct(rng, *shape)
    compare(nn.AdaptiveMaxPool1d(size), torch.nn.AdaptiveMaxPool1d(size), x)
    out, idx = compare(nn.AdaptiveMaxPool1d(size, True), torch.nn.AdaptiveMaxPool1d(size, True), x)
    ref = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), size, return_indices=True)[1]
    assert to_np(idx).tolist() == ref.tolist()


@pytest.mark.parametrize("size", [3, (2, 3), 2])
def test_ties_send_the_gradient_to_one_element(rng, size):
    """All-zero windows (after a ReLU): torch gives the whole gradient to the first zero."""
    x = np.maximum(R(rng, 2, 2, 7, 6), 0.5) - 0.5
    compare(nn.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size), x)
    compare(nn.AdaptiveMaxPool2d(size, True), torch.nn.AdaptiveMaxPool2d(size, True), x)


@pytest.mark.parametrize("size", [2, 3, 1])
def test_nan_takes_the_last_nan(size):
    n = np.nan
    x = np.array([[[[1.0, n, 3.0], [n, 0.0, 2.0], [5.0, 5.0, n]]]], dtype=np.float32)
    out, idx = F.adaptive_max_pool2d(tc.tensor(x), size, return_indices=True)
    ref, ridx = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(to_np(out), ref.numpy())
    assert to_np(idx).tolist() == ridx.tolist()


@pytest.mark.parametrize("shape,size", [((1, 2, 5, 4), (3, 3)), ((2, 1, 6, 4), (3, 2)), ((2, 7), 3)])
def test_gradcheck_and_gradgradcheck(rng, shape, size):
    x = tc.tensor(_distinct(rng, *shape).astype(np.float64), requires_grad=True)
    pool = F.adaptive_max_pool1d if len(shape) == 2 else F.adaptive_max_pool2d
    assert tc.autograd.gradcheck(lambda t: pool(t, size), (x,))
    assert tc.autograd.gradgradcheck(lambda t: pool(t, size), (x,))


def test_empty_batch_and_empty_output(rng):
    out = compare(nn.AdaptiveMaxPool2d((3, 2)), torch.nn.AdaptiveMaxPool2d((3, 2)), R(rng, 0, 3, 7, 5))
    assert tuple(out[0].shape) == (0, 3, 3, 2)
    out, idx = F.adaptive_max_pool2d(tc.tensor(R(rng, 2, 3, 5, 5)), 0, return_indices=True)
    assert tuple(out.shape) == tuple(idx.shape) == (2, 3, 0, 0)


def test_functional_forms_and_repr(rng):
    x = _distinct(rng, 2, 3, 7, 6)
    out, idx = F.adaptive_max_pool2d_with_indices(tc.tensor(x), (3, 4))
    ref, ridx = TF.adaptive_max_pool2d_with_indices(torch.tensor(x), (3, 4))
    assert_close(out, ref.numpy())
    assert to_np(idx).tolist() == ridx.tolist()
    assert repr(nn.AdaptiveMaxPool2d((3, None), True)) == repr(torch.nn.AdaptiveMaxPool2d((3, None), True))
    assert repr(nn.AdaptiveMaxPool1d(4)) == repr(torch.nn.AdaptiveMaxPool1d(4))
    assert dict(nn.AdaptiveMaxPool2d(2).state_dict()) == {}


def test_errors():
    with pytest.raises(RuntimeError, match=r"AdaptiveMaxPool2d\(output_size=2\).*\[5, 5\]"):
        nn.AdaptiveMaxPool2d(2)(tc.randn(5, 5))
    with pytest.raises(RuntimeError, match=r"AdaptiveMaxPool1d\(output_size=2\).*\[2, 3, 4, 4\]"):
        nn.AdaptiveMaxPool1d(2)(tc.randn(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match=r"adaptive_max_pool2d\(\): Expected 3D or 4D tensor.*\[2, 3, 4, 5, 6\]"):
        F.adaptive_max_pool2d(tc.randn(2, 3, 4, 5, 6), 2)
    with pytest.raises(RuntimeError, match=r"4-dimensional.*adaptive_max_pool1d.*\[2, 3, 4, 4\]"):
        F.adaptive_max_pool1d(tc.randn(2, 3, 4, 4), 2)
    with pytest.raises(RuntimeError, match=r"non-zero size.*\[2, 0, 4, 4\] with dimension 1"):
        F.adaptive_max_pool2d(tc.randn(2, 0, 4, 4), 2)
    with pytest.raises(RuntimeError, match=r"non-negative.*\[1, 2, 4, 4\]"):
        F.adaptive_max_pool2d(tc.randn(1, 2, 4, 4), (2, -1))
    with pytest.raises(TypeError, match="output_size"):
        F.adaptive_max_pool1d(tc.randn(2, 3, 4), None)
    # torch raises the same types
    with pytest.raises(RuntimeError):
        TF.adaptive_max_pool2d(torch.randn(2, 0, 4, 4), 2)
    with pytest.raises(TypeError):
        TF.adaptive_max_pool1d(torch.randn(2, 3, 4), None)


def test_max_pool2d_1x1_kernel_indices(rng):
    """A 1x1 kernel (adaptive pooling to the input's own size) gives indices of the output's shape."""
    x = _distinct(rng, 2, 3, 4, 5)
    out, idx = F.max_pool2d(tc.tensor(x), 1, return_indices=True)
    assert to_np(idx).tolist() == TF.max_pool2d(torch.tensor(x), 1, return_indices=True)[1].tolist()
