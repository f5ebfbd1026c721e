"""tc.nn.functional's convolutions and pooling, and the window arguments they check.

One check of stride, padding, dilation and kernel (torch's rules) above the backends, so every
device rejects the same arguments; the ops (tinygrad_chain/ops/nn_ops.py) assume them valid.
"""
import operator

from tinygrad_chain import dtypes
from tinygrad_chain.ops import nn_ops as N
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.tensor import Tensor


def _tuple(v, n, what="value"):
    values = list(v) if isinstance(v, (tuple, list)) else [v] * n
    if len(values) != n:
        raise ValueError(f"expected {n} values for {what}, got {values}")
    try:  # operator.index: 1.5 or "2" is an error (as in torch), not silently truncated
        return tuple(operator.index(e) for e in values)
    except TypeError:
        raise TypeError(f"{what} must be an int or a tuple of {n} ints, got {v!r}") from None


def _window_args(op, n, stride, padding, dilation, kernel=None):
    """stride, padding and dilation (and a pool's kernel) as n-tuples, checked with torch's rules:
    the one check every conv, pool and transposed conv makes above the backends, so every device
    rejects the same arguments (the kernels assume them valid). `padding` may be a conv's string."""
    if kernel is not None:
        kernel = _tuple(kernel, n, f"{op}: kernel_size")
        if min(kernel) <= 0:
            raise RuntimeError(f"{op}: kernel_size should be greater than zero, but got kernel_size={list(kernel)}")
    stride, dilation = _tuple(stride, n, f"{op}: stride"), _tuple(dilation, n, f"{op}: dilation")
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: stride should be greater than zero, but got stride={list(stride)}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilation={list(dilation)}")
    if not isinstance(padding, str):
        padding = _tuple(padding, n, f"{op}: padding")
        if min(padding) < 0:
            raise RuntimeError(f"{op}: negative padding is not supported, got padding={list(padding)}")
    return stride, padding, dilation, kernel


def _conv_padding(padding, kernel, dilation, stride, op):
    """(top, bottom, left, right) from torch's (checked) 2-tuple, 'valid' or 'same' padding."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]  # torch pads the extra element at the end
        return tuple(out)
    ph, pw = padding
    return (ph, ph, pw, pw)


def _check_bias(op, bias, out_channels, w):
    if bias is not None and (bias.shape != (out_channels,) or bias.dtype is not w.dtype):
        raise RuntimeError(f"{op}: Given weight of size {list(w.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements of {w.dtype.name}, but got bias of size {list(bias.shape)} "
                           f"{bias.dtype.name} instead")


def _check_conv(op, x, w, bias, groups, ndim):
    if x.ndim not in (ndim + 1, ndim + 2):
        raise RuntimeError(f"Expected {ndim + 1}D (unbatched) or {ndim + 2}D (batched) input to {op}, but got "
                           f"input of size: {list(x.shape)}")
    if w.ndim != ndim + 2:
        raise RuntimeError(f"{op}: expected a {ndim + 2}D weight, got weight of size {list(w.shape)}")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    c = x.shape[-ndim - 1]
    if c != w.shape[1] * groups:
        shape = list(x.shape) if x.ndim == ndim + 2 else [1] + list(x.shape)
        raise RuntimeError(f"{op}: Given groups={groups}, weight of size {list(w.shape)}, expected input{shape} to "
                           f"have {w.shape[1] * groups} channels, but got {c} channels instead")
    if w.shape[0] % groups:
        raise RuntimeError(f"{op}: the number of output channels ({w.shape[0]}) must be divisible by groups "
                           f"({groups})")
    if x.dtype is not w.dtype:
        raise RuntimeError(f"{op}: Input type ({x.dtype.name}) and weight type ({w.dtype.name}) should be the same")
    _check_bias(op, bias, w.shape[0], w)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    _check_conv("conv2d", input, weight, bias, groups, 2)
    return _conv2d("conv2d", input, weight, bias, stride, padding, dilation, groups)


def _conv2d(op, input, weight, bias, stride, padding, dilation, groups):  # noqa: A002
    """conv2d and conv1d (a height-1 image); `op` names the caller in errors."""
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    stride, padding, dilation, _ = _window_args(op, 2, stride, padding, dilation)
    kernel = tuple(weight.shape[2:])
    pad4 = _conv_padding(padding, kernel, dilation, stride, op)
    h, w = x.shape[2] + pad4[0] + pad4[1], x.shape[3] + pad4[2] + pad4[3]
    if h < dilation[0] * (kernel[0] - 1) + 1 or w < dilation[1] * (kernel[1] - 1) + 1:
        raise RuntimeError(f"{op}: Calculated padded input size per channel: ({h} x {w}). Kernel size: "
                           f"({dilation[0] * (kernel[0] - 1) + 1} x {dilation[1] * (kernel[1] - 1) + 1}). Kernel "
                           f"size can't be greater than actual input size (input {list(input.shape)})")
    args = (x, weight) if bias is None else (x, weight, bias)
    out = apply(N.Conv2d, *args, stride=stride, padding=pad4, dilation=dilation, groups=int(groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """conv1d as conv2d over a height-1 image."""
    _check_conv("conv1d", input, weight, bias, groups, 1)
    (stride,), padding, (dilation,), _ = _window_args("conv1d", 1, stride, padding, dilation)
    unbatched = input.ndim == 2
    x = (input.unsqueeze(0) if unbatched else input).unsqueeze(2)
    pad2 = padding if isinstance(padding, str) else (0, padding[0])
    out = _conv2d("conv1d", x, weight.unsqueeze(2), bias, (1, stride), pad2, (1, dilation), groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    return _conv_transpose2d("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def _conv_transpose2d(op, input, weight, bias, stride, padding, output_padding, groups, dilation):  # noqa: A002
    """conv_transpose2d and conv_transpose1d (a height-1 image); `op` names the caller in errors."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to {op}, but got input of "
                           f"size: {list(input.shape)}")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if weight.ndim != 4 or x.shape[1] != weight.shape[0]:
        raise RuntimeError(f"{op}: Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(x.shape)} to have {weight.shape[0]} channels, but got {x.shape[1]} "
                           f"channels instead")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    _check_bias(op, bias, weight.shape[1] * groups, weight)
    stride, (ph, pw), dilation, _ = _window_args(op, 2, stride, padding, dilation)
    oph, opw = _tuple(output_padding, 2, f"{op}: output_padding")
    if min(oph, opw) < 0:
        raise RuntimeError(f"{op}: negative output_padding is not supported, got output_padding={[oph, opw]}")
    for op_, s, d in ((oph, stride[0], dilation[0]), (opw, stride[1], dilation[1])):
        if op_ >= max(s, d):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, "
                               f"got output_padding={output_padding}, stride={stride}, dilation={dilation}")
    kh, kw = weight.shape[2:]
    out_hw = ((x.shape[2] - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1,
              (x.shape[3] - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1)
    if min(out_hw) <= 0:
        raise RuntimeError(f"{op}: Given input size per channel: ({x.shape[2]} x {x.shape[3]}). Calculated output "
                           f"size per channel: ({out_hw[0]} x {out_hw[1]}). Output size is too small (input "
                           f"{list(input.shape)}, weight {list(weight.shape)})")
    out = apply(N.ConvTranspose2d, x, weight, stride=stride, padding=(ph, ph, pw, pw), dilation=dilation,
                groups=int(groups), out_hw=out_hw)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv_transpose1d, but got input of "
                           f"size: {list(input.shape)}")
    (stride,), (padding,), (dilation,), _ = _window_args("conv_transpose1d", 1, stride, padding, dilation)
    (output_padding,) = _tuple(output_padding, 1, "conv_transpose1d: output_padding")
    unbatched = input.ndim == 2
    x = (input.unsqueeze(0) if unbatched else input).unsqueeze(2)
    out = _conv_transpose2d("conv_transpose1d", x, weight.unsqueeze(2), bias, (1, stride), (0, padding),
                            (0, output_padding), groups, (1, dilation)).squeeze(2)
    return out.squeeze(0) if unbatched else out


# ---- pooling -----------------------------------------------------------------------------------------
def _pool_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode, n=2):
    """The checked kernel, stride, padding and dilation of an n-d pool, and (for n=2) its output size."""
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{op}: Expected {n + 1}D or {n + 2}D (batch mode) tensor for input, but got input of "
                           f"size: {list(input.shape)}")
    if stride is None or (isinstance(stride, (tuple, list)) and not stride):
        stride = kernel_size  # torch's default: windows side by side
    stride, padding, dilation, kernel = _window_args(op, n, stride, padding, dilation, kernel_size)
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
    if n == 1:
        return kernel, stride, padding, dilation, None
    out_hw = tuple(_pool_size(size, k, s, p, d, ceil_mode)
                   for size, k, s, p, d in zip(input.shape[-2:], kernel, stride, padding, dilation))
    if min(out_hw) <= 0:
        raise RuntimeError(f"{op}: Given input size: {list(input.shape)}. Calculated output size: "
                           f"{list(input.shape[:-2]) + list(out_hw)}. Output size is too small")
    return kernel, stride, padding, dilation, out_hw


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    return _max_pool2d("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _max_pool2d(op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):  # noqa: A002
    """max_pool2d and max_pool1d (a height-1 image); `op` names the caller in errors."""
    kernel, stride, padding, dilation, out_hw = _pool_args(op, input, kernel_size, stride, padding, dilation,
                                                           ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    out = apply(N.MaxPool2d, x, kernel=kernel, stride=stride, padding=padding, dilation=dilation, out_hw=out_hw)
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    b = x._b
    idx = out.grad_fn.saved if out.grad_fn is not None else b.max_pool2d(x._data, kernel, stride, padding,
                                                                          dilation, out_hw)[1]
    idx = Tensor._make(b.astype(idx, _int64()), b, False, None, [0])
    return (out.squeeze(0), idx.squeeze(0)) if unbatched else (out, idx)


def _int64():
    return dtypes.int64


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    (k,), (s,), (p,), (d,), _ = _pool_args("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode,
                                           n=1)
    out = _max_pool2d("max_pool1d", input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode,
                      return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,  # noqa: A002
               divisor_override=None):
    return _avg_pool2d("avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def _avg_pool2d(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad,  # noqa: A002
                divisor_override):
    """avg_pool2d and avg_pool1d (a height-1 image); `op` names the caller in errors."""
    kernel, stride, padding, _, out_hw = _pool_args(op, input, kernel_size, stride, padding, 1, ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    divisor = N.pool_divisor(x._b, x.dtype, x.shape, kernel, stride, padding, out_hw, count_include_pad,
                             divisor_override)
    out = apply(N.AvgPool2d, x, kernel=kernel, stride=stride, padding=padding, out_hw=out_hw, divisor=divisor)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):  # noqa: A002
    (k,), (s,), (p,), _, _ = _pool_args("avg_pool1d", input, kernel_size, stride, padding, 1, ceil_mode, n=1)
    return _avg_pool2d("avg_pool1d", input.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad,
                       None).squeeze(-2)
