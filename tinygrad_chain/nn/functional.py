"""tc.nn.functional: torch's functional forms of activations, layers and losses.

Layers with a registered op (conv, pooling, the fused cross-entropy) call
it; the rest are compositions of registered ops, so they differentiate to
any order. Argument names, defaults and errors follow torch.
"""
import math
import warnings

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.creation import arange
from tinygrad_chain.functions import einsum
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops import nn_ops as N
from tinygrad_chain.compile_hooks import replayed_check
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.ops.linalg import Linear
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.tensor import Tensor, tensor
from tinygrad_chain.widen import float32_inside

from ._adaptive_pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: F401
                             adaptive_max_pool1d_with_indices, adaptive_max_pool2d,
                             adaptive_max_pool2d_with_indices)
from ._conv_pool import (_tuple, _window_args, avg_pool1d, avg_pool2d, conv1d, conv2d,  # noqa: F401
                         conv_transpose1d, conv_transpose2d, max_pool1d, max_pool2d)
from ._functional_more import (adaptive_avg_pool3d, avg_pool3d, celu, conv3d, conv_transpose3d,  # noqa: F401
                               cosine_embedding_loss, cosine_similarity, embedding_bag, fold, gaussian_nll_loss, glu,
                               gumbel_softmax, hardshrink, hardsigmoid, hardswish, hardtanh, hinge_embedding_loss,
                               in_place, instance_norm, kl_div, local_response_norm, margin_ranking_loss, max_pool3d,
                               max_unpool2d, mish, multi_margin_loss, multilabel_soft_margin_loss, pad_indexed,
                               pairwise_distance, pdist, poisson_nll_loss, prelu, rms_norm, rrelu, selu,
                               soft_margin_loss, softshrink, softsign, tanhshrink, threshold, triplet_margin_loss,
                               unfold)
from ._losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,  # noqa: F401
                      huber_loss, l1_loss, mse_loss, nll_loss, smooth_l1_loss)


# ---- activations ----------------------------------------------------------------------
def relu(input, inplace=False):  # noqa: A002
    return input.relu_() if inplace else input.relu()


def relu_(input):  # noqa: A002
    return input.relu_()


def leaky_relu_(input, negative_slope=0.01):  # noqa: A002
    return input.leaky_relu_(negative_slope)


def relu6(input, inplace=False):  # noqa: A002
    # torch's hardtanh(0, 6): the gradient is 0 at both kinks (clamp's would pass it there)
    return in_place(input, inplace, "relu6", lambda x: where(x >= 6.0, 6.0, x.relu()))


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    return in_place(input, inplace, "leaky_relu", lambda x: apply(A.LeakyRelu, x, negative_slope=negative_slope))


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    return in_place(input, inplace, "elu", lambda x: apply(A.Elu, x, alpha=alpha))


def gelu(input, approximate="none"):  # noqa: A002
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(A.Gelu, input, approximate=approximate)


def silu(input, inplace=False):  # noqa: A002
    return in_place(input, inplace, "silu", lambda x: apply(A.Silu, x))


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
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length {len(pad)} must be even and at most 2 * {input.ndim} for an "
                           f"input of shape {list(input.shape)}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for d, (lo, hi) in enumerate(widths):
        if input.shape[d] + lo + hi < 0:
            raise RuntimeError(f"pad: the input size {input.shape[d]} of dim {d}, padded by ({lo}, {hi}), gives a "
                               f"negative output size (input shape {list(input.shape)}, pad {list(pad)})")
    if mode != "constant":
        return pad_indexed(input, widths, mode)
    # negative padding crops, as in torch
    crop = tuple(slice(max(-lo, 0), input.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        input = input[crop]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return apply(M.Pad, input, widths=tuple(widths), value=0.0 if value is None else value)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding along a new last dim (torch.nn.functional.one_hot)."""
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


# ---- linear layers (convolution and pooling: _conv_pool.py) ----------------------------------------
def linear(input, weight, bias=None):  # noqa: A002
    if input.shape[-1:] != weight.shape[-1:]:
        rows = math.prod(input.shape[:-1]) if input.ndim > 1 else 1
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{weight.shape[-1]}x{weight.shape[0]}) (input {list(input.shape)}, weight "
                           f"{list(weight.shape)})")
    return apply(Linear, input, weight) if bias is None else apply(Linear, input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias


# ---- interpolation -----------------------------------------------------------------------------------
def _resize_matrix(n, out, mode, align_corners, scale, like):
    """(out, n) matrix mapping an axis of length n to length out."""
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
    if min(sizes) <= 0 or min(in_sizes) <= 0:
        raise RuntimeError(f"interpolate: Input and output sizes should be greater than 0, but got input "
                           f"{list(in_sizes)} and output {list(sizes)}")
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
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"layer_norm: expected a floating-point input, got {input.dtype.name}")
    if not k:
        raise RuntimeError("layer_norm: Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                           "least one element, but got normalized_shape = []")
    params = {name: p for name, p in (("weight", weight), ("bias", bias)) if p is not None}
    for name, p in params.items():
        if tuple(p.shape) != shape:
            raise RuntimeError(f"layer_norm: Expected {name} to be of same shape as normalized_shape, but got {name} "
                               f"of shape {list(p.shape)} and normalized_shape = {list(shape)}")
    if any(p.dtype is not input.dtype for p in params.values()):
        if input.dtype in dtypes.HALF and all(p.dtype is dtypes.float32 for p in params.values()):
            # torch's mixed types: a half input with float32 parameters computes in float32, rounds once
            return layer_norm(input.float(), shape, weight, bias, eps).to(input.dtype)
        raise RuntimeError(f"layer_norm: mixed dtypes: input {input.dtype.name}, "
                           + ", ".join(f"{name} {p.dtype.name}" for name, p in params.items())
                           + " (all one dtype, or a float16/bfloat16 input with float32 weight and bias)")
    return apply(N.LayerNorm, input, weight, bias, k=k, eps=float(eps))


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


@replayed_check  # it reads the indices' range: tc.compile replays it every step
def _check_indices(input, weight):  # noqa: A002
    num = weight.shape[0]
    if input.numel():
        lo, hi = int(input.amin().item()), int(input.amax().item())
        if lo < -num or hi >= num or lo < 0:
            raise IndexError(f"embedding: index out of range in self (indices in [{lo}, {hi}], weight of shape "
                             f"{list(weight.shape)})")


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,  # noqa: A002
              sparse=False):
    """Rows of weight gathered by the indices in input; the padding row gets no gradient."""
    if input.dtype.is_floating_point:
        raise RuntimeError(f"embedding: Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {input.dtype.name} instead")
    _check_indices(input, weight)
    num = weight.shape[0]
    if max_norm is not None:
        with no_grad():
            rows = weight[input.reshape(-1)]
            norms = rows.norm(norm_type, dim=1, keepdim=True)
            scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight[input.reshape(-1)] = rows * scale
    if padding_idx is not None:
        pad = padding_idx if padding_idx >= 0 else padding_idx + num
        frozen = (arange(num, device=weight.device) == pad).unsqueeze(1)
        weight = where(frozen, weight.detach(), weight)
    return weight[input]


# ---- attention ------------------------------------------------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q k^T * scale + mask) v; a bool mask marks the positions that take part."""
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
    return dtypes.bool_
