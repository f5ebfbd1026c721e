"""Adaptive average and max pooling (torch's window rule).

Output cell i of an axis of length n pools [floor(i*n/out), ceil((i+1)*n/out)).
Equal windows are a plain avg/max pool. Otherwise average pooling is separable
(matrix products) and max pooling finds each window's argmax without a graph,
then gathers the input there, so the gradient goes to that one element (as
torch) and gathers differentiate to any order.
"""
from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.creation import arange
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.tensor import tensor

from ._conv_pool import _tuple, avg_pool2d, max_pool2d


def _windows(n, out):
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


def output_hw(op, input, output_size):  # noqa: A002
    """Checked (H, W) -> (OH, OW); None in output_size keeps that size."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got: {list(input.shape)}")
    for d in range(input.ndim - 3, input.ndim):
        if input.shape[d] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {list(input.shape)} with dimension {d} being empty")
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(size) != 2:
        raise ValueError(f"{op}(): output_size must be an int or 2 values, got {output_size}")
    out = tuple(n if o is None else int(o) for n, o in zip(input.shape[-2:], size))
    if min(out) < 0:
        raise RuntimeError(f"{op}(): output_size must be non-negative, got {output_size} for input of size "
                           f"{list(input.shape)}")
    return out


# ---- average ----------------------------------------------------------------------------
def _avg_matrix(n, out, like):
    """(out, n) averaging matrix: row i averages window i."""
    rows = [[1.0 / (e - s) if s <= j < e else 0.0 for j in range(n)] for s, e in _windows(n, out)]
    return tensor(rows, dtype=like.dtype, device=like.device).reshape(out, n)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    h, w = input.shape[-2:] if input.ndim >= 2 else (0, 0)
    oh, ow = output_hw("adaptive_avg_pool2d", input, output_size)
    if oh and ow and h % oh == 0 and w % ow == 0:  # equal windows: a plain average pool
        return avg_pool2d(input, (h // oh, w // ow))
    # separable: out = A_h @ x @ A_w^T
    return _avg_matrix(h, oh, input).matmul(input.matmul(_avg_matrix(w, ow, input).t()))


def _size_1d(op, input, output_size):  # noqa: A002
    """The checked output length of a 1-D adaptive pool of a (C, L) or (N, C, L) input."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor for argument #1 "
                           f"'self' (while checking arguments for {op}); input of size {list(input.shape)}")
    if output_size is None or (isinstance(output_size, (tuple, list)) and None in output_size):
        raise TypeError(f"{op}(): argument 'output_size' (position 2) must be tuple of ints, not NoneType")
    size = _tuple(output_size, 1, "output_size")[0]
    if size < 0:
        raise RuntimeError(f"{op}(): output_size must be non-negative, got {output_size} for input of size "
                           f"{list(input.shape)}")
    return size


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    size = _size_1d("adaptive_avg_pool1d", input, output_size)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, size)).squeeze(-2)


# ---- max ------------------------------------------------------------------------------------
def _window_table(n, out, device):
    """(out, k) int64 positions of each window, k the longest; short windows repeat their last
    position (a repeat never changes the max, and comes after the original in scan order)."""
    wins = _windows(n, out)
    k = max(e - s for s, e in wins)
    return tensor([[s + min(j, e - s - 1) for j in range(k)] for s, e in wins], device=device).reshape(out, k)


def _argmax_indices(x, oh, ow):
    """(N, C, oh*ow) flat H*W indices of each window's max: the first max in row-major order,
    or the last NaN where the window has one (torch's CPU kernel)."""
    n, c, h, w = x.shape
    rows, cols = _window_table(h, oh, x.device), _window_table(w, ow, x.device)
    kh, kw = rows.shape[1], cols.shape[1]
    k = kh * kw
    win = x[:, :, rows][..., cols]  # (N, C, oh, kh, ow, kw)
    win = win.permute(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, k)
    nan = win.isnan()
    local = where(nan.any(-1), where(nan, arange(k, device=x.device), -1).amax(-1), win.argmax(-1))
    flat = (rows.reshape(oh, 1, kh, 1) * w + cols.reshape(1, ow, 1, kw)).reshape(1, 1, oh, ow, k)
    return flat.expand(n, c, oh, ow, k).gather(4, local.unsqueeze(-1)).reshape(n, c, oh * ow)


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    oh, ow = output_hw("adaptive_max_pool2d", input, output_size)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    n, c, h, w = x.shape
    if oh == 0 or ow == 0:  # torch gives an empty result
        out = x[:, :, :oh, :ow]
        idx = out.detach().long()
    elif h % oh == 0 and w % ow == 0:  # equal windows: a plain max pool (same ties and NaN rule)
        out, idx = max_pool2d(x, (h // oh, w // ow), return_indices=True)
    else:
        with no_grad():
            flat_idx = _argmax_indices(x.detach(), oh, ow)
        out = x.reshape(n, c, h * w).gather(2, flat_idx).reshape(n, c, oh, ow)
        idx = flat_idx.reshape(n, c, oh, ow)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    size = _size_1d("adaptive_max_pool1d", input, output_size)
    out, idx = adaptive_max_pool2d(input.unsqueeze(-2), (1, size), return_indices=True)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    return adaptive_max_pool1d(input, output_size, True)
