"""tc.nn.functional: torch's functional forms of activations, layers and losses.

Layers with a registered op (conv, pooling, the fused cross-entropy) call
it; the rest are compositions of registered ops, so they differentiate to
any order. Argument names, defaults and errors follow torch.
"""
import math
import operator
import warnings

from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops import nn_ops as N
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.ops.linalg import Linear
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.widen import float32_inside

from ._losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,  # noqa: F401
                      huber_loss, l1_loss, mse_loss, nll_loss, smooth_l1_loss)


# ---- activations ----------------------------------------------------------------------
def relu(input, inplace=False):  # noqa: A002
    return input.relu()


def relu6(input, inplace=False):  # noqa: A002
    # torch's hardtanh(0, 6): the gradient is 0 at both kinks (clamp's would pass it there)
    return where(input >= 6.0, 6.0, input.relu())


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    return apply(A.LeakyRelu, input, negative_slope=negative_slope)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    return apply(A.Elu, input, alpha=alpha)


def gelu(input, approximate="none"):  # noqa: A002
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(A.Gelu, input, approximate=approximate)


def silu(input, inplace=False):  # noqa: A002
    return apply(A.Silu, input)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    return apply(A.Softplus, input, beta=beta, threshold=threshold)


def logsigmoid(input):  # noqa: A002
    return -softplus(-input)


def sigmoid(input):  # noqa: A002
    return input.sigmoid()


def tanh(input):  # noqa: A002
    return input.tanh()


def _softmax_dim(ndim):
    # torch's legacy choice when dim is not given
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):  # noqa: A002
    x = input if dtype is None else input.to(dtype)
    return x.softmax(_softmax_dim(x.ndim) if dim is None else dim)


def softmin(input, dim=None, dtype=None):  # noqa: A002
    return softmax(-input, dim, dtype)


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    x = input if dtype is None else input.to(dtype)
    return x.log_softmax(_softmax_dim(x.ndim) if dim is None else dim)


# ---- padding and shapes ---------------------------------------------------------------------
def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """torch's pad: `pad` lists (left, right) pairs from the last dim backwards."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length {len(pad)} must be even and at most 2 * {input.ndim} for an "
                           f"input of shape {list(input.shape)}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    # negative padding crops, as in torch
    crop = tuple(slice(max(-lo, 0), input.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        input = input[crop]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return apply(M.Pad, input, widths=tuple(widths), value=0.0 if value is None else value)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding along a new last dim (torch.nn.functional.one_hot)."""
    from tinygrad_chain.creation import arange
    if tensor.dtype.is_floating_point:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got {tensor.dtype.name}")
    if tensor.numel():
        lo, hi = int(tensor.amin().item()), int(tensor.amax().item())
        if lo < 0:
            raise RuntimeError("one_hot: Class values must be non-negative.")
        if num_classes == -1:
            num_classes = hi + 1
        elif hi >= num_classes:
            raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}), got {hi}.")
    elif num_classes == -1:
        raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).long()


# ---- linear and convolution -------------------------------------------------------------------------
def linear(input, weight, bias=None):  # noqa: A002
    if input.shape[-1:] != weight.shape[-1:]:
        rows = math.prod(input.shape[:-1]) if input.ndim > 1 else 1
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{weight.shape[-1]}x{weight.shape[0]}) (input {list(input.shape)}, weight "
                           f"{list(weight.shape)})")
    return apply(Linear, input, weight) if bias is None else apply(Linear, input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    from tinygrad_chain.functions import einsum
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias


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


def _check_conv(op, x, w, groups, ndim):
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


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    _check_conv("conv2d", input, weight, groups, 2)
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
    _check_conv("conv1d", input, weight, groups, 1)
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
    from tinygrad_chain.tensor import Tensor
    b = x._b
    idx = out.grad_fn.saved if out.grad_fn is not None else b.max_pool2d(x._array, kernel, stride, padding,
                                                                          dilation, out_hw)[1]
    idx = Tensor._make(b.astype(idx, _int64()), b, False, None, [0])
    return (out.squeeze(0), idx.squeeze(0)) if unbatched else (out, idx)


def _int64():
    from tinygrad_chain import dtypes
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


from ._adaptive_pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: E402,F401
                             adaptive_max_pool1d_with_indices, adaptive_max_pool2d,
                             adaptive_max_pool2d_with_indices)


# ---- interpolation -----------------------------------------------------------------------------------
def _resize_matrix(n, out, mode, align_corners, scale, like):
    """(out, n) matrix mapping an axis of length n to length out."""
    from tinygrad_chain.tensor import tensor
    # torch uses 1/scale_factor when given (unless recomputed), else n/out
    ratio = (1.0 / scale) if scale else n / out
    rows = []
    for i in range(out):
        row = [0.0] * n
        if mode == "nearest":
            row[min(int(math.floor(i * ratio)), n - 1)] = 1.0
        elif mode == "nearest-exact":
            row[min(int(math.floor((i + 0.5) * ratio)), n - 1)] = 1.0
        else:
            if align_corners:
                src = i * (n - 1) / (out - 1) if out > 1 else 0.0
            else:
                src = max((i + 0.5) * ratio - 0.5, 0.0)
            i0 = min(int(math.floor(src)), n - 1)
            i1 = min(i0 + 1, n - 1)
            frac = src - i0
            row[i0] += 1.0 - frac
            row[i1] += frac
        rows.append(row)
    return tensor(rows, dtype=like.dtype, device=like.device)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims (nearest, nearest-exact, linear, bilinear) as separable matrix products."""
    spatial = input.ndim - 2
    if spatial not in (1, 2):
        raise NotImplementedError(f"interpolate: only 3-D and 4-D inputs are supported, got {list(input.shape)}")
    linear_modes = {1: "linear", 2: "bilinear"}
    if mode not in ("nearest", "nearest-exact", linear_modes[spatial]):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported for {input.ndim}-D input "
                                  f"(supported: 'nearest', 'nearest-exact', {linear_modes[spatial]!r})")
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    in_sizes = input.shape[2:]
    if size is not None:
        sizes = _tuple(size, spatial, "size")
        scales = (None,) * spatial
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * spatial
        sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_sizes, factors))
        scales = (None,) * spatial if recompute_scale_factor else tuple(float(f) for f in factors)
    kind = "nearest" if mode == "nearest" else "nearest-exact" if mode == "nearest-exact" else "linear"
    out = input
    # the last axis: x @ R^T; the one before it (2-D): R @ x
    mats = [_resize_matrix(n, o, kind, align_corners, s, input) for n, o, s in zip(in_sizes, sizes, scales)]
    out = out.matmul(mats[-1].t())
    if spatial == 2:
        out = mats[0].matmul(out)
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):  # noqa: A002
    return interpolate(input, size, scale_factor, mode, align_corners)


def _check_shuffle(input, factor, op, what):  # noqa: A002
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input with {input.ndim} "
                           f"dimension(s)")
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {what}, but got {factor}")


def pixel_shuffle(input, upscale_factor):  # noqa: A002
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), as torch: a reshape and a permute, so it differentiates."""
    r = upscale_factor
    _check_shuffle(input, r, "pixel_shuffle", "upscale_factor")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):  # noqa: A002
    """pixel_shuffle's inverse: (*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = downscale_factor
    _check_shuffle(input, r, "pixel_unshuffle", "downscale_factor")
    *lead, c, h, w = input.shape
    for name, size, d in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                               f"input.size({d})={size} is not divisible by {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


# ---- normalization --------------------------------------------------------------------------------------
@float32_inside(keep=("running_mean", "running_var"))  # statistics in float32; the running ones updated in place
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,  # noqa: A002
               momentum=0.1, eps=1e-05):
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (got {input.ndim}D input)")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements not {t.numel()} (input shape "
                               f"{list(input.shape)})")
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // c
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)}")
        mean = input.mean(axes, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(axes, keepdim=True)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.copy_(running_mean * (1 - momentum) + mean.reshape(c) * momentum)
                if running_var is not None:
                    running_var.copy_(running_var * (1 - momentum) + var.reshape(c) * (momentum * n / (n - 1)))
        out = centered * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


@float32_inside
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):  # noqa: A002
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"layer_norm: Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(axes, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(axes, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@float32_inside
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):  # noqa: A002
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected at least 2D input, got {list(input.shape)}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but "
                           f"got input of shape {list(input.shape)} and num_groups={num_groups}")
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(input.shape)
    shape = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def normalize(input, p=2.0, dim=1, eps=1e-12):  # noqa: A002
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


# ---- dropout and embedding ---------------------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero each element with probability p (seeded backend RNG) and scale the rest by 1/(1-p)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return input * _keep_mask(input, input.shape, p)


def _keep_mask(input, shape, p):  # noqa: A002
    """1/(1-p) with probability 1-p, else 0, in an array of `shape` (broadcast against input)."""
    from tinygrad_chain.tensor import Tensor
    b = input._b
    if p == 1.0:
        return Tensor._make(b.full(shape, 0, input.dtype), b, False, None, [0])
    keep = b.binary("ge", b.rand(shape, input.dtype), p)  # P(keep) = 1 - p
    return Tensor._make(b.binary("mul", b.astype(keep, input.dtype), 1.0 / (1.0 - p)), b, False, None, [0])


def _channel_dropout(input, p, training, lead):  # noqa: A002
    """Zero whole channels: one draw per index of the first `lead` dims ((N, C), or (C,) unbatched)."""
    if not training or p == 0.0:
        return input
    return input * _keep_mask(input, tuple(input.shape[:lead]) + (1,) * (input.ndim - lead), p)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _warn_rank(name, ndim, expected):
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which torch deprecates (it expects {expected}); "
                  f"its channels are taken from dim {0 if name == 'dropout3d' else 1}, as torch does",
                  stacklevel=3)


def dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability p; scale the rest by 1/(1-p)."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           f"dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
                           f"a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _channel_dropout(input, p, training, input.ndim - 1)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, H, W) inputs. As torch, any input is read as (N, C, ...): a 3-D
    one as (N, C, L), with a warning (torch has not yet moved to reading it as unbatched (C, H, W))."""
    _check_p(p)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), as torch does; use "
                      "dropout1d for that", stacklevel=2)
    elif input.ndim != 4:
        _warn_rank("dropout2d", input.ndim, "3D or 4D inputs")
    return _channel_dropout(input, p, training, 2)


def dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _check_p(p)
    if input.ndim not in (4, 5):
        _warn_rank("dropout3d", input.ndim, "4D or 5D inputs")
    return _channel_dropout(input, p, training, 2 if input.ndim == 5 else 1)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,  # noqa: A002
              sparse=False):
    """Rows of weight gathered by the indices in input; the padding row gets no gradient."""
    if input.dtype.is_floating_point:
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {input.dtype.name} instead")
    num = weight.shape[0]
    if input.numel():
        lo, hi = int(input.amin().item()), int(input.amax().item())
        if lo < -num or hi >= num or lo < 0:
            raise IndexError(f"embedding: index out of range in self (indices in [{lo}, {hi}], weight of shape "
                             f"{list(weight.shape)})")
    if max_norm is not None:
        with no_grad():
            rows = weight[input.reshape(-1)]
            norms = rows.norm(norm_type, dim=1, keepdim=True)
            scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight[input.reshape(-1)] = rows * scale
    if padding_idx is not None:
        from tinygrad_chain.creation import arange
        pad = padding_idx if padding_idx >= 0 else padding_idx + num
        frozen = (arange(num, device=weight.device) == pad).unsqueeze(1)
        weight = where(frozen, weight.detach(), weight)
    return weight[input]


# ---- attention ------------------------------------------------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q k^T * scale + mask) v; a bool mask marks the positions that take part."""
    from tinygrad_chain.creation import arange
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: incompatible shapes query {list(query.shape)}, key "
                           f"{list(key.shape)}, value {list(value.shape)}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query.matmul(key.transpose(-2, -1)) * scale
    L, S = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be set when "
                               "is_causal=True")
        rows = arange(L, device=query.device).unsqueeze(1)
        attn_mask = rows >= arange(S, device=query.device)  # lower triangle: no peeking ahead
    if attn_mask is not None:
        if attn_mask.dtype is _bool():
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights.matmul(value)


def _bool():
    from tinygrad_chain import dtypes
    return dtypes.bool_
