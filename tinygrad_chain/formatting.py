"""torch-style repr: tensor([1., 2.], requires_grad=True).

NumPy is used here only to print values, never to compute.
"""
import numpy

from tinygrad_chain import dtypes

_DEFAULT_SHOWN = (dtypes.int64, dtypes.bool_)
_DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {"default": _DEFAULTS, "short": dict(_DEFAULTS, precision=2, edgeitems=2),
             "full": dict(_DEFAULTS, threshold=numpy.inf)}
_options = dict(_DEFAULTS)


def set_options(profile=None, **given):
    """torch.set_printoptions: a profile first, then each option given (None leaves it)."""
    if profile is not None:
        _options.update(_PROFILES[profile])
    _options.update({k: v for k, v in given.items() if v is not None})


def tensor_repr(t):
    values = t._b.to_numpy(t._data)
    if t.dtype in dtypes.HALF:  # printed through float32, as torch does (NumPy has no format for bfloat16)
        values = values.astype(numpy.float32)
    prefix = "tensor("
    # torch: integral floats print as "1.", others with 4 fixed decimals
    finite = values[numpy.isfinite(values)] if values.dtype.kind == "f" else values
    integral = values.dtype.kind != "f" or bool(numpy.all(finite == numpy.round(finite)))
    body = numpy.array2string(values, separator=", ", prefix=prefix, precision=_options["precision"],
                              threshold=_options["threshold"], max_line_width=_options["linewidth"],
                              edgeitems=_options["edgeitems"], suppress_small=_options["sci_mode"] is False,
                              floatmode="maxprec" if integral else "fixed")
    if values.size == 0:
        body = f"[], size={tuple(values.shape)}" if values.ndim > 1 else "[]"
    extras = []
    if str(t.device) != "cpu":  # as torch, which names every device but the CPU; here also "numpy"
        extras.append(f"device='{t.device}'")  # when "cpu" names the cpp backend
    if t.dtype is not dtypes.get_default_dtype() and t.dtype not in _DEFAULT_SHOWN:
        extras.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"
