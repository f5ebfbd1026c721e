"""The rest of torch.nn.functional that real scripts use (re-exported there): the smaller activations,
distances, instance and RMS norm, the non-constant paddings, the ranking/embedding losses, unfold/fold and
embedding_bag.

Each is composed from Tensor ops, so it differentiates (to any order) and runs on every device. Where
torch's formula has a kink, the gradient there is torch's (hardtanh passes nothing at its ends, ...).
"""
import math

import numpy

from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.creation import arange
from tinygrad_chain.creation import tensor as _tensor
from tinygrad_chain.dtypes import finfo
from tinygrad_chain.functions import stack as _stack
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.widen import float32_inside

from . import _windows as W
from ._losses import _reduce


def in_place(input, inplace, name, fn):  # noqa: A002
    """fn(input), written into input when inplace (torch's inplace=True: the caller's tensor changes; through
    Tensor._inplace, so the version counter and the leaf check apply as to any in-place op)."""
    return input._inplace(name + "_", fn) if inplace else fn(input)


def _softplus(x):
    return apply(A.Softplus, x, beta=1.0, threshold=20.0)


# ---- activations -------------------------------------------------------------------------------
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    return in_place(input, inplace, "hardtanh",
                    lambda x: where(x <= min_val, min_val, where(x >= max_val, max_val, x)))


def hardsigmoid(input, inplace=False):  # noqa: A002
    return in_place(input, inplace, "hardsigmoid", lambda x: hardtanh(x / 6 + 0.5, 0.0, 1.0))


def hardswish(input, inplace=False):  # noqa: A002
    # torch's gradient: 0 below -3, 1 above 3, x / 3 + 0.5 between
    return in_place(input, inplace, "hardswish", lambda x: where(x <= -3, 0.0, where(x >= 3, x, x * (x + 3) / 6)))


def selu(input, inplace=False):  # noqa: A002
    return in_place(input, inplace, "selu", lambda x: 1.0507009873554804934193349852946
                    * apply(A.Elu, x, alpha=1.6732632423543772848170429916717))


def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    return in_place(input, inplace, "celu",
                    lambda x: x.relu() + where(x > 0, 0.0, alpha * ((x.clamp(max=0) / alpha).exp() - 1)))


def mish(input, inplace=False):  # noqa: A002
    return in_place(input, inplace, "mish", lambda x: x * _softplus(x).tanh())


def glu(input, dim=-1):  # noqa: A002
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def softsign(input):  # noqa: A002
    return input / (1 + input.abs())


def tanhshrink(input):  # noqa: A002
    return input - input.tanh()


def threshold(input, threshold, value, inplace=False):  # noqa: A002
    return in_place(input, inplace, "threshold", lambda x: where(x > threshold, x, value))


def softshrink(input, lambd=0.5):  # noqa: A002
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def hardshrink(input, lambd=0.5):  # noqa: A002
    return where((input > lambd) | (input < -lambd), input, 0.0)


def prelu(input, weight):  # noqa: A002
    w = weight.reshape((1, -1) + (1,) * (input.ndim - 2)) if input.ndim >= 2 and weight.numel() > 1 else weight
    return where(input >= 0, input, w * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):  # noqa: A002
    if training:
        slope = input.new_empty(input.shape).uniform_(lower, upper)
        return in_place(input, inplace, "rrelu", lambda x: where(x >= 0, x, x * slope))
    return in_place(input, inplace, "rrelu", lambda x: where(x >= 0, x, x * ((lower + upper) / 2)))


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    gumbels = -logits.new_empty(logits.shape).exponential_().log()
    soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return soft
    hard_one = soft.new_zeros(soft.shape).scatter(dim, soft.argmax(dim, keepdim=True), 1.0)
    return hard_one - soft.detach() + soft  # the straight-through estimator


# ---- distances ---------------------------------------------------------------------------------
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    # torch's: each norm clamped to eps before the division
    n1 = x1.norm(dim=dim).clamp(min=eps)
    n2 = x2.norm(dim=dim).clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return (x1 - x2 + eps).norm(p, dim=-1, keepdim=keepdim)


def pdist(input, p=2):  # noqa: A002
    n = input.shape[0]
    i, j = [arange(n, device=input.device).unsqueeze(1).expand(n, n), arange(n, device=input.device).expand(n, n)]
    upper = j > i
    return (input[i[upper]] - input[j[upper]]).norm(p, dim=-1)


# ---- normalisation -------------------------------------------------------------------------------
@float32_inside
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    axes = tuple(range(2, input.ndim))
    shape = (1, -1) + (1,) * (input.ndim - 2)
    if use_input_stats:
        mean = input.mean(axes, keepdim=True)
        var = input.var(axes, keepdim=True, unbiased=False)
        if running_mean is not None:
            n = math.prod(input.shape[2:])
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.mean(0).reshape(-1) * momentum)
                running_var.mul_(1 - momentum).add_(var.mean(0).reshape(-1) * (momentum * n / max(n - 1, 1)))
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    out = (input - mean) * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


@float32_inside
def rms_norm(input, normalized_shape, weight=None, eps=None):  # noqa: A002
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    eps = eps if eps is not None else _eps(input)
    out = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def _eps(input):  # noqa: A002
    return finfo(input.dtype).eps


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):  # noqa: A002
    sq = (input * input).unsqueeze(1)
    sq = sq.reshape(sq.shape[0], 1, sq.shape[2], -1)
    sq = apply(M.Pad, sq, widths=((0, 0), (0, 0), (size // 2, (size - 1) // 2), (0, 0)), value=0.0)
    c = input.shape[1]
    div = sum(sq[:, :, i:i + c] for i in range(size)) / size
    div = div.reshape(input.shape)
    return input / (k + alpha * div) ** beta


# ---- padding modes other than constant: the input re-indexed along each padded dim ----------------
def pad_indexed(input, widths, mode):  # noqa: A002
    """widths: (before, after) per dim; reflect, replicate or circular, as an index_select per dim."""
    out = input
    for d, (lo, hi) in enumerate(widths):
        if not (lo or hi):
            continue
        n = out.shape[d]
        pos = arange(-lo, n + hi, device=input.device)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(f"pad: Padding size should be less than the corresponding input dimension, but "
                                   f"got: padding ({lo}, {hi}) at dimension {d} of input {list(input.shape)}")
            period = 2 * (n - 1) if n > 1 else 1
            pos = pos % period
            pos = where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = pos.clamp(0, n - 1)
        elif mode == "circular":
            if lo > n or hi > n:
                raise RuntimeError(f"pad: Padding value causes wrapping around more than once: padding ({lo}, {hi}) "
                                   f"at dimension {d} of input {list(input.shape)}")
            pos = pos % n
        else:
            raise NotImplementedError(f"pad: mode {mode!r} is not supported (constant, reflect, replicate, "
                                      f"circular)")
        out = out.index_select(d, pos)
    return out


# ---- losses --------------------------------------------------------------------------------------
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):  # noqa: A002
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    loss = where(target == 1, input, 0.0) + where(target == -1, (margin - input).clamp(min=0), 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    return _reduce(_softplus(-target * input), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    # torch's: the cosine with EPSILON = 1e-12 added to each squared norm
    cos = (input1 * input2).sum(-1) / ((input1.square().sum(-1) + 1e-12) * (input2.square().sum(-1) + 1e-12)).sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):  # noqa: A002
    if var.ndim == input.ndim - 1 or (var.ndim == input.ndim and var.shape[-1] == 1 and input.shape[-1] != 1):
        var = var if var.ndim == input.ndim else var.unsqueeze(-1)
    var = var.clamp(min=eps)
    loss = 0.5 * (var.log() + (input - target).square() / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,  # noqa: A002
                     reduce=None, reduction="mean"):
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                reduction="mean"):
    loss = target * _softplus(-input) + (1 - target) * _softplus(input)  # -log sigmoid(x) = softplus(-x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(-1), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,  # noqa: A002
                      reduction="mean"):
    x = input if input.ndim == 2 else input.unsqueeze(0)
    t = target.reshape(-1, 1)
    picked = x.gather(1, t)
    terms = (margin - picked + x).clamp(min=0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * weight[t]
    terms = terms.scatter(1, t, 0.0)
    loss = terms.sum(1) / x.shape[1]
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction)


# ---- patches: unfold (im2col) and its adjoint fold (_windows.py) --------------------------------------------
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """(N, C, H, W) -> (N, C * kh * kw, L): each column one sliding block."""
    cols, _ = W.gather_windows(input, *(W.ntuple(v, 2) for v in (kernel_size, dilation, padding, stride)))
    return cols.reshape(input.shape[0], -1, cols.shape[-1])


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """unfold's adjoint: the blocks of (N, C * kh * kw, L) summed back into (N, C, H, W)."""
    kernel = W.ntuple(kernel_size, 2)
    cols = input.reshape(input.shape[0], -1, math.prod(kernel), input.shape[-1])
    return W.scatter_windows(cols, W.ntuple(output_size, 2), kernel, W.ntuple(dilation, 2), W.ntuple(padding, 2),
                             W.ntuple(stride, 2))


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    return _unbatched(input, 5, lambda x: W.conv_nd(x, weight, bias, stride, padding, dilation, groups))


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    return _unbatched(input, 5, lambda x: W.conv_transpose_nd(x, weight, bias, stride, padding, output_padding,
                                                               groups, dilation))


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    if return_indices:
        raise NotImplementedError("max_pool3d: return_indices is not supported")
    return _unbatched(input, 5, lambda x: W.max_pool_nd(x, kernel_size, stride, padding, dilation, ceil_mode))


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,  # noqa: A002
               divisor_override=None):
    return _unbatched(input, 5, lambda x: W.avg_pool_nd(x, kernel_size, stride, padding, ceil_mode,
                                                         count_include_pad, divisor_override))


def adaptive_avg_pool3d(input, output_size):  # noqa: A002
    def pool(x):
        sizes = x.shape[2:]
        outs = [s if o is None else o for s, o in zip(sizes, W.ntuple(output_size, 3))]
        cells = []
        for i in range(outs[0]):
            for j in range(outs[1]):
                for k in range(outs[2]):
                    box = tuple(slice(a * n // o, -(-(a + 1) * n // o)) for a, n, o in zip((i, j, k), sizes, outs))
                    cells.append(x[(slice(None), slice(None)) + box].mean((2, 3, 4)))
        return _stack(cells, 2).reshape(*x.shape[:2], *outs)
    return _unbatched(input, 5, pool)


def _unbatched(input, ndim, fn):  # noqa: A002
    """fn over a batched input; an unbatched one (one dim fewer) runs as a batch of one."""
    if input.ndim == ndim - 1:
        return fn(input.unsqueeze(0)).squeeze(0)
    if input.ndim != ndim:
        raise RuntimeError(f"expected a {ndim - 1}D (unbatched) or {ndim}D (batched) input, got input of shape "
                           f"{list(input.shape)}")
    return fn(input)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """Each value put back at its max_pool2d index (flat in the H x W plane); zeros elsewhere."""
    (kh, kw), (ph, pw) = W.ntuple(kernel_size, 2), W.ntuple(padding, 2)
    sh, sw = W.ntuple(stride if stride is not None else kernel_size, 2)
    h, w = input.shape[-2:]
    oh, ow = tuple(output_size[-2:]) if output_size is not None else ((h - 1) * sh - 2 * ph + kh,
                                                                       (w - 1) * sw - 2 * pw + kw)
    lead = tuple(input.shape[:-2])
    flat = input.reshape(*lead, h * w)
    out = flat.new_zeros(lead + (oh * ow,)).scatter(-1, indices.reshape(*lead, h * w), flat)
    return out.reshape(*lead, oh, ow)


# ---- bags of embeddings ----------------------------------------------------------------------------
def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,  # noqa: A002
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Each bag's rows of weight, reduced by sum, mean or max; bags are the rows of a 2-d input, or the spans
    of a 1-d input that offsets start. Entries equal to padding_idx take no part (nor count in a mean)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}')")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences.")
        bags, per = input.shape
        bag_of = numpy.repeat(numpy.arange(bags), per)
        flat = input.reshape(-1)
        samples = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    else:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        starts = numpy.asarray(offsets.tolist(), dtype=numpy.int64)
        if len(starts) and (starts[0] != 0 or starts[-1] > input.shape[0] or (numpy.diff(starts) < 0).any()):
            raise RuntimeError(f"embedding_bag: offsets must start at 0 and rise to at most the input's length "
                               f"{input.shape[0]}, got {starts.tolist()}")
        if include_last_offset:
            starts = starts[:-1]
        bags = len(starts)
        bag_of = numpy.searchsorted(starts, numpy.arange(input.shape[0]), side="right") - 1
        flat, samples = input, per_sample_weights
    if max_norm is not None:
        raise NotImplementedError("embedding_bag: max_norm is not supported")
    rows = weight[flat]
    keep = numpy.ones(len(bag_of), dtype=bool) if padding_idx is None else numpy.asarray(flat.tolist()) != padding_idx
    bag_index = _tensor(bag_of[keep], device=weight.device)
    rows = rows[_tensor(numpy.flatnonzero(keep), device=weight.device)]
    if samples is not None:
        rows = rows * samples[_tensor(numpy.flatnonzero(keep), device=weight.device)].unsqueeze(1)
    if mode == "max":
        empty_row = weight.new_zeros(weight.shape[1])
        return _stack([rows[bag_index == b].amax(0) if (bag_of[keep] == b).any() else empty_row
                      for b in range(bags)])
    out = weight.new_zeros((bags, weight.shape[1])).index_add(0, bag_index, rows)
    if mode == "mean":
        counts = numpy.bincount(bag_of[keep], minlength=bags).clip(min=1)
        out = out / _tensor(counts, dtype=weight.dtype, device=weight.device).unsqueeze(1)
    return out
