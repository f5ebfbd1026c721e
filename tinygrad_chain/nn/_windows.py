"""Sliding windows over any number of spatial dims, as one gather of flat positions (and its adjoint, one
scatter-add): F.unfold/F.fold and the 3-d layers (conv3d, conv_transpose3d, max_pool3d, avg_pool3d) are built on
them, so they differentiate through the gather's VJP and run on every device. The 2-d convolutions and pools keep
their own kernels (ops/nn_ops.py); these serve the shapes those do not take.

The window index is computed on the host from the shapes alone: rows are the K kernel offsets, columns the L
output places, each entry a flat position in the padded spatial block.
"""
import math

import numpy

from tinygrad_chain.creation import tensor
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply


def ntuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def window_index(size, kernel, dilation, padding, stride, device, extra=None):
    """(index (K, L), padded sizes, output sizes); `extra` pads more on the high side (pooling's ceil_mode)."""
    n = len(size)
    extra = extra or (0,) * n
    padded = [s + 2 * p + e for s, p, e in zip(size, padding, extra)]
    outs = [(q - d * (k - 1) - 1) // st + 1 for q, k, d, st in zip(padded, kernel, dilation, stride)]
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"the kernel {list(kernel)} (dilation {list(dilation)}) does not fit the padded input "
                           f"{padded}")
    strides = [math.prod(padded[i + 1:]) for i in range(n)]
    rows = sum(numpy.arange(k).reshape([-1 if j == i else 1 for j in range(n)]) * d * strides[i]
               for i, (k, d) in enumerate(zip(kernel, dilation)))
    cols = sum(numpy.arange(o).reshape([-1 if j == i else 1 for j in range(n)]) * st * strides[i]
               for i, (o, st) in enumerate(zip(outs, stride)))
    index = rows.reshape(-1, 1) + cols.reshape(1, -1)
    return tensor(index, device=device), padded, outs


def pad_spatial(x, padding, value=0.0, extra=None):
    extra = extra or (0,) * len(padding)
    if not any(padding) and not any(extra):
        return x
    widths = ((0, 0), (0, 0)) + tuple((p, p + e) for p, e in zip(padding, extra))
    return apply(M.Pad, x, widths=widths, value=value)


def gather_windows(x, kernel, dilation, padding, stride, value=0.0, extra=None):
    """(N, C, *S) -> (N, C, K, L) windows, and the output sizes."""
    n, c = x.shape[:2]
    index, padded, outs = window_index(tuple(x.shape[2:]), kernel, dilation, padding, stride, x.device, extra)
    flat = pad_spatial(x, padding, value, extra).reshape(n, c, math.prod(padded))
    return flat[:, :, index], outs


def scatter_windows(cols, size, kernel, dilation, padding, stride):
    """The adjoint of gather_windows: (N, C, K, L) summed back into (N, C, *size)."""
    n, c = cols.shape[:2]
    index, padded, _ = window_index(tuple(size), kernel, dilation, padding, stride, cols.device)
    out = cols.new_zeros((n, c, math.prod(padded))).index_put((slice(None), slice(None), index), cols,
                                                             accumulate=True)
    out = out.reshape(n, c, *padded)
    return out[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, size))]


def conv_nd(x, weight, bias, stride, padding, dilation, groups):
    n, c = x.shape[:2]
    dims = x.ndim - 2
    out_c, kernel = weight.shape[0], tuple(weight.shape[2:])
    stride, dilation = ntuple(stride, dims), ntuple(dilation, dims)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        x = pad_spatial(x, [t // 2 for t in totals], extra=[t - 2 * (t // 2) for t in totals])
        padding = (0,) * dims
    padding = (0,) * dims if padding == "valid" else ntuple(padding, dims)
    cols, outs = gather_windows(x, kernel, dilation, padding, stride)  # (N, C, K, L)
    k = cols.shape[2]
    cols = cols.reshape(n, groups, (c // groups) * k, -1)
    w = weight.reshape(groups, out_c // groups, (c // groups) * k)
    out = w.unsqueeze(0).matmul(cols).reshape(n, out_c, *outs)
    return out if bias is None else out + bias.reshape((1, -1) + (1,) * dims)


def conv_transpose_nd(x, weight, bias, stride, padding, output_padding, groups, dilation):
    n, c = x.shape[:2]
    dims = x.ndim - 2
    kernel = tuple(weight.shape[2:])
    stride, padding, dilation = ntuple(stride, dims), ntuple(padding, dims), ntuple(dilation, dims)
    output_padding = ntuple(output_padding, dims)
    out_c = weight.shape[1] * groups
    size = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
            for i, s, p, d, k, op in zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)]
    k = math.prod(kernel)
    w = weight.reshape(groups, c // groups, (out_c // groups) * k).transpose(1, 2)  # (g, O/g * K, C/g)
    cols = w.unsqueeze(0).matmul(x.reshape(n, groups, c // groups, -1))  # (N, g, O/g * K, L)
    out = scatter_windows(cols.reshape(n, out_c, k, -1), size, kernel, dilation, padding, stride)
    return out if bias is None else out + bias.reshape((1, -1) + (1,) * dims)


def _ceil_extra(size, kernel, dilation, padding, stride, ceil_mode):
    """torch's ceil_mode: one more window where the last would start inside the input or its left padding."""
    if not ceil_mode:
        return None
    extra = []
    for s, k, d, p, st in zip(size, kernel, dilation, padding, stride):
        span = s + 2 * p - d * (k - 1) - 1
        out = -(-span // st) + 1
        if (out - 1) * st >= s + p:
            out -= 1
        extra.append(max((out - 1) * st + d * (k - 1) + 1 - (s + 2 * p), 0))
    return extra


def pool_args(x, kernel_size, stride, padding, dilation=1):
    dims = x.ndim - 2
    kernel = ntuple(kernel_size, dims)
    return kernel, ntuple(stride if stride else kernel, dims), ntuple(padding, dims), ntuple(dilation, dims)


def max_pool_nd(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    kernel, stride, padding, dilation = pool_args(x, kernel_size, stride, padding, dilation)
    extra = _ceil_extra(x.shape[2:], kernel, dilation, padding, stride, ceil_mode)
    cols, outs = gather_windows(x, kernel, dilation, padding, stride, -math.inf, extra)
    return cols.amax(2).reshape(*x.shape[:2], *outs)


def avg_pool_nd(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
    kernel, stride, padding, dilation = pool_args(x, kernel_size, stride, padding)
    extra = _ceil_extra(x.shape[2:], kernel, dilation, padding, stride, ceil_mode)
    cols, outs = gather_windows(x, kernel, dilation, padding, stride, 0.0, extra)
    total = cols.sum(2)
    if divisor_override:
        count = divisor_override
    elif count_include_pad:  # the padding counts, the ceil_mode overhang does not (torch's)
        ones = x.new_ones((1, 1) + tuple(s + 2 * p for s, p in zip(x.shape[2:], padding)))
        count = gather_windows(ones, kernel, dilation, (0,) * len(kernel), stride, 0.0, extra)[0].sum(2)
    else:
        count = gather_windows(x.new_ones((1, 1) + tuple(x.shape[2:])), kernel, dilation, padding, stride, 0.0,
                               extra)[0].sum(2)
    return (total / count).reshape(*x.shape[:2], *outs)
