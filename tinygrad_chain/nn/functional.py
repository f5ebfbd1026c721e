"""tc.nn.functional: the functional forms of activations, padding and losses."""
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply


def relu(input, inplace=False):  # noqa: A002
    return input.relu()


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


def sigmoid(input):  # noqa: A002
    return input.sigmoid()


def tanh(input):  # noqa: A002
    return input.tanh()


def softmax(input, dim=None, dtype=None):  # noqa: A002
    x = input if dtype is None else input.to(dtype)
    return x.softmax(-1 if dim is None else dim)


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    x = input if dtype is None else input.to(dtype)
    return x.log_softmax(-1 if dim is None else dim)


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
