"""The loss functions of tc.nn.functional (re-exported there), with torch's semantics.

cross_entropy with class indices runs the fused, stable `cross_entropy` op;
class weights, ignore_index, label smoothing and the reductions are composed
around it. The others are compositions of registered ops.
"""
import math
import warnings

from tinygrad_chain import dtypes
from tinygrad_chain.compile_hooks import replayed_check
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import nn_ops as N
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.ops.registry import apply

_REDUCTIONS = ("none", "mean", "sum")


def _legacy(size_average, reduce, reduction):
    """torch's deprecated size_average / reduce arguments, mapped to `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else "mean" if size_average else "sum"


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction != "none":  # the losses that reach here unchecked (kl_div's 'foo') returned the unreduced loss
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return loss


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: {reduction} is not a valid value for reduction")


def _check_sizes(name, input, target):  # noqa: A002
    """torch warns when input and target sizes differ and then broadcasts; unbroadcastable is an error."""
    if input.shape == target.shape:
        return
    a, b = tuple(input.shape), tuple(target.shape)
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"{name}: The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i} (input {list(a)}, target {list(b)})")
    warnings.warn(f"{name}: Using a target size ({list(b)}) that is different to the input size ({list(a)}). This "
                  f"will likely lead to incorrect results due to broadcasting. Please ensure they have the same "
                  f"size.", stacklevel=3)


def _classes(name, input):  # noqa: A002
    """The number of classes: dim 1, or dim 0 of an unbatched (C,) input."""
    if input.ndim == 0:
        raise RuntimeError(f"{name}: input must have at least 1 dimension, got a 0-d tensor")
    return input.shape[1] if input.ndim > 1 else input.shape[0]


def _class_layout(name, input, target):  # noqa: A002
    """(N, C) logits and (N,) targets from torch's (C), (N, C) or (N, C, d1, ...) layouts."""
    _classes(name, input)
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"{name}: for unbatched input of shape {list(input.shape)} the target must be a "
                               f"0-d class index, got shape {list(target.shape)}")
        return input.unsqueeze(0), target.reshape(1)
    n = input.shape[0]
    if target.ndim == 0 or target.shape[0] != n:
        raise ValueError(f"{name}: Expected input batch_size ({n}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if tuple(target.shape) != (n,) + tuple(input.shape[2:]):
        raise RuntimeError(f"{name}: expected target of shape {[n] + list(input.shape[2:])} for input of shape "
                           f"{list(input.shape)}, got {list(target.shape)}")
    if input.ndim > 2:  # classes last, then flatten the positions
        input = input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
        target = target.reshape(-1)
    return input, target


@replayed_check  # it reads the targets' range: tc.compile replays it every step
def _check_targets(name, target, classes, ignore_index):
    """Raise IndexError for class indices outside [0, classes) (ignore_index aside); return whether any
    row is ignored."""
    if target.dtype.is_floating_point or target.dtype is dtypes.bool_:
        raise RuntimeError(f"{name}: expected scalar type Long but found {target.dtype.name} for the class-index "
                           f"target")
    if not target.numel():
        return False
    b, a = target._b, target._data  # the backend's own reductions: no Tensor or tape (this runs every replay)
    lo, hi = int(b.reduce("min", a, None, False)), int(b.reduce("max", a, None, False))
    if lo >= 0 and hi < classes:
        return 0 <= ignore_index < classes and bool((target == ignore_index).any())
    bad = ((target < 0) | (target >= classes)) & (target != ignore_index)
    if bool(bad.any()):
        value = int(target[bad].reshape(-1)[0].item())
        raise IndexError(f"{name}: Target {value} is out of bounds (expected class indices in [0, {classes - 1}]).")
    return True


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
                  reduction="mean", label_smoothing=0.0):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    classes = _classes("cross_entropy", input)
    if weight is not None and tuple(weight.shape) != (classes,):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {classes} classes or "
                           f"no classes but got weight tensor of shape: {list(weight.shape)}")
    if target.dtype.is_floating_point:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    x, t = _class_layout("cross_entropy", input, target)
    ignored = _check_targets("cross_entropy", t, classes, ignore_index)
    loss = apply(N.CrossEntropy, x, t, ignore_index=ignore_index)
    valid = (t != ignore_index).to(x.dtype) if ignored else None
    w = None
    if weight is not None:
        w = weight[t.masked_fill(t == ignore_index, 0) if ignored else t]
        if valid is not None:
            w = w * valid
        loss = loss * w
    loss = _reduce_weighted(loss, reduction, w, valid, target.shape)
    if label_smoothing > 0.0:
        logp = x.log_softmax(1)
        smooth = -(logp * weight).sum(1) if weight is not None else -logp.sum(1)
        if valid is not None:
            smooth = smooth * valid
        smooth = _reduce_weighted(smooth, reduction, w, valid, target.shape)
        loss = (1.0 - label_smoothing) * loss + (label_smoothing / classes) * smooth
    return loss


def _reduce_weighted(loss, reduction, w, valid, shape):
    """nll-style reduction: the mean divides by the total weight of the rows that count."""
    if reduction == "none":
        return loss.reshape(shape)
    if reduction == "sum":
        return loss.sum()
    if w is not None:
        return loss.sum() / w.sum()
    return loss.sum() / valid.sum() if valid is not None else loss.mean()


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):  # noqa: A002
    if input.shape != target.shape:
        raise RuntimeError(f"cross_entropy: with class probabilities the target must have the input's shape, got "
                           f"input {list(input.shape)} and target {list(target.shape)}")
    dim = 1 if input.ndim > 1 else 0
    classes = input.shape[dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    prod = input.log_softmax(dim) * target
    if weight is not None:
        prod = prod * weight.reshape((classes,) + (1,) * (input.ndim - dim - 1))
    loss = -prod.sum(dim)
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
             reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    x, t = _class_layout("nll_loss", input, target)
    classes = x.shape[1]
    if weight is not None and tuple(weight.shape) != (classes,):
        raise RuntimeError(f"nll_loss: weight tensor should be defined either for all {classes} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")
    ignored = _check_targets("nll_loss", t, classes, ignore_index)
    safe = t.masked_fill(t == ignore_index, 0) if ignored else t
    loss = -x.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = weight[safe] if weight is not None else None
    if ignored:
        valid = (t != ignore_index).to(x.dtype)
        w = valid if w is None else w * valid
    if w is not None:
        loss = loss * w
    return _reduce_weighted(loss, reduction, w, None, target.shape)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("mse_loss", reduction)
    _check_sizes("mse_loss", input, target)
    d = input - target
    loss = d * d
    return _reduce(loss if weight is None else loss * weight, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("l1_loss", reduction)
    _check_sizes("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    _check_reduction("huber_loss", reduction)
    _check_sizes("huber_loss", input, target)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    d = input - target
    a = d.abs()
    loss = where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce(loss if weight is None else loss * weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):  # noqa: A002
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("smooth_l1_loss", reduction)
    _check_sizes("smooth_l1_loss", input, target)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    d = input - target
    a = d.abs()
    if beta == 0.0:
        return _reduce(a, reduction)
    return _reduce(where(a < beta, (0.5 / beta) * d * d, a - 0.5 * beta), reduction)


def _same_size(name, input, target):  # noqa: A002
    if input.shape != target.shape:
        raise ValueError(f"{name}: Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")


@replayed_check
def _check_probabilities(input):  # noqa: A002
    if input.numel() and not (input.amin().item() >= 0 and input.amax().item() <= 1):  # NaN fails too, as torch's
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as torch does."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy", reduction)
    _same_size("binary_cross_entropy", input, target)
    _check_probabilities(input)
    loss = -(target * input.log().clamp(min=-100.0) + (1.0 - target) * (1.0 - input).log().clamp(min=-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                     reduction="mean", pos_weight=None):
    """(1 - t) x + (1 + (pw - 1) t) softplus(-x), written for each sign of x as a sum of terms
    that do not cancel: never exp of a large number, and no -x + softplus(-x) that loses its digits
    where x << 0 and t is small (torch's float32 result is 1.5e-6 off at x = -8.7, t = 0.003)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if input.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: Target size ({list(target.shape)}) must be the same "
                         f"as input size ({list(input.shape)})")
    # x >= 0: (1 - t) x + lw softplus(-x); x < 0: -pw t x + lw softplus(x), lw = 1 + (pw - 1) t (as
    # softplus(-x) = -x + softplus(x)). The branch is chosen by where(), so the gradient at 0 is the
    # x >= 0 side's, the true one. No linear cut-off: past softplus' usual threshold of 20 its slope
    # still differs from 1 by 2e-9
    pos = input >= 0
    sp = apply(A.Softplus, where(pos, -input, input), beta=1.0, threshold=math.inf)
    neg_slope = -target if pos_weight is None else -pos_weight * target
    loss = where(pos, (1.0 - target) * input, neg_slope * input)
    loss = loss + (sp if pos_weight is None else (1.0 + (pos_weight - 1.0) * target) * sp)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
