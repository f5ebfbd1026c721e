"""float32 results as accurate as torch's (issue 12, part 2), on every device.

Each check runs an op in float32 on large random inputs (normal * 3, plus edge values:
signed zeros, tiny and huge values, the kinks) and compares the forward value and every
input gradient with the exact result: the same function in float64 (torch) on the same
float32 inputs, at rtol 1e-6 plus atol 1e-6. torch's float32 kernels meet that bound on
these inputs. Upstream gradients are multiples of 1/64 so that their row sums are exact
in float32: a check then measures the op's own rounding, not a sum's.

The `device` fixture (conftest.py) runs every test on numpy, cpp and cpp with every
elementwise op fused; the sizes reach the C++ kernels (row kernels at any size,
activations from 2048 elements, reductions from 16384).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import to_np

import tinygrad_chain as tc
from tinygrad_chain.backends import lazy

F = tc.nn.functional
RTOL = ATOL = 1e-6


def assert_exact(actual, exact, what):
    """Every element within ATOL + RTOL * |exact| of the exact value (NaN where it is NaN)."""
    actual, exact = np.asarray(actual, np.float64), np.asarray(exact, np.float64)
    assert actual.shape == exact.shape, f"{what}: shape {actual.shape} != {exact.shape}"
    both_nan = np.isnan(actual) & np.isnan(exact)
    with np.errstate(invalid="ignore"):  # inf - inf where both are the same infinity
        err = np.where((actual == exact) | both_nan, 0.0, np.abs(actual - exact) / (ATOL + RTOL * np.abs(exact)))
    err = np.where(np.isnan(err), np.inf, err)
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else None
    assert worst is None or err[worst] <= 1.0, (
        f"{what}: {actual[worst]!r} where the exact value is {exact[worst]!r} (at {worst}: "
        f"{err[worst]:.3g} times the tolerance)")


def dyadic(rng, shape):
    """Random upstream gradients whose sums float32 computes exactly."""
    return (np.round(rng.standard_normal(shape) * 64) / 64).astype(np.float32)


def check(ours, exact, inputs, rng, grad=True):
    """ours(*tensors) against exact(*float64 torch tensors) on the float32 `inputs`: the forward
    value and, with `grad`, each input's gradient for a dyadic upstream gradient."""
    xs = [tc.tensor(x, requires_grad=grad) for x in inputs]
    ts = [torch.tensor(x.astype(np.float64), requires_grad=grad) for x in inputs]
    y, want = ours(*xs), exact(*ts)
    assert y.dtype is tc.float32
    assert_exact(to_np(y), want.detach().numpy(), "forward")
    if not grad:
        return
    g = dyadic(rng, tuple(want.shape))
    y.backward(tc.tensor(g))
    want.backward(torch.tensor(g.astype(np.float64)))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_exact(to_np(x.grad), t.grad.numpy(), f"gradient of input {i}")


# ---- activations ------------------------------------------------------------------------------
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 5.9999995,
         6.0000005, 19.999998, 20.0, 20.000002, -20.0, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4,
         -1.2784645, -1.2784646, 0.7, -0.7]


@pytest.fixture
def x_act(rng):
    """20,000 x 3 normal * 3 samples and the edge values, float32."""
    return np.concatenate([rng.standard_normal(60000) * 3, EDGES]).astype(np.float32)


ACTIVATIONS = {
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "relu6": (lambda x: F.relu6(x), lambda x: TF.relu6(x)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    "elu": (lambda x: F.elu(x, 1.3), lambda x: TF.elu(x, 1.3)),
    "gelu": (lambda x: F.gelu(x), lambda x: TF.gelu(x)),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (lambda x: F.silu(x), lambda x: TF.silu(x)),
    "softplus": (lambda x: F.softplus(x), lambda x: TF.softplus(x)),
    "softplus_beta_threshold": (lambda x: F.softplus(x, 2.0, 5.0), lambda x: TF.softplus(x, 2.0, 5.0)),
    "logsigmoid": (lambda x: F.logsigmoid(x), lambda x: TF.logsigmoid(x)),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh()),
    "exp": (lambda x: (x * 0.25).exp(), lambda x: (x * 0.25).exp()),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_and_backward_exact(name, x_act, rng):
    ours, exact = ACTIVATIONS[name]
    check(ours, exact, [x_act], rng)


@pytest.mark.parametrize("name", ["silu", "sigmoid", "gelu_tanh"])
def test_sigmoid_where_it_cancels(name, rng):
    """silu'(x) = s (1 + x (1 - s)): 1 - s from s = 1/(1 + e^-x) keeps few digits where s -> 1
    (x = 13: two), and s = 1 - 1/(1 + e^x) few where s -> 0 (x = -12: on the numpy device silu's
    value and gradient were 1.6e-6 off). Also around silu's zero crossing (-1.278), and with
    upstream gradients of about 4, which scale the rounding of f' past the absolute tolerance."""
    x = np.concatenate([rng.uniform(-16, -8, 20000), rng.uniform(8, 16, 20000), rng.uniform(-1.4, -1.15, 20000)])
    ours, exact = ACTIVATIONS[name]
    xs, ts = tc.tensor(x.astype(np.float32), requires_grad=True), torch.tensor(x.astype(np.float32).astype(np.float64),
                                                                                 requires_grad=True)
    y, want = ours(xs), exact(ts)
    assert_exact(to_np(y), want.detach().numpy(), "forward")
    g = np.where(rng.uniform(size=x.size) < 0.5, -4.0, 4.0).astype(np.float32)
    y.backward(tc.tensor(g))
    want.backward(torch.tensor(g.astype(np.float64)))
    assert_exact(to_np(xs.grad), ts.grad.numpy(), "gradient")


# ---- the softmax family -------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [3.0, 1e3])
@pytest.mark.parametrize("op,dim", [("softmax", -1), ("softmax", 0), ("log_softmax", -1), ("log_softmax", 0),
                                    ("logsumexp", -1), ("logsumexp", 0), ("logsumexp", (0, 1))])
def test_softmax_family_exact(op, dim, scale, rng):
    # scale 1e3: a row max of ~3000, where m + log(sum) rounds by 1e-4 (x - that, or exp(x - lse),
    # was off by 100 times the tolerance)
    x = (rng.standard_normal((256, 100)) * scale).astype(np.float32)
    check(lambda t: getattr(t, op)(dim), lambda t: getattr(t, op)(dim), [x], rng)


def test_log_softmax_and_cross_entropy_at_logits_of_1e4(rng):
    """The issue's case: logits [3, 1e4, 1e4], target 2 (and a row of three equal logits)."""
    x = np.array([[3.0, 1e4, 1e4], [1e4, 1e4, 1e4]], np.float32)
    t = np.array([2, 2])
    check(lambda a: a.log_softmax(1), lambda a: a.log_softmax(1), [x], rng)
    check(lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), [x], rng)
    check(lambda a: F.cross_entropy(a, tc.tensor(t), reduction="none"),
          lambda a: TF.cross_entropy(a, torch.tensor(t), reduction="none"), [x], rng)
    a = tc.tensor(x, requires_grad=True)
    F.cross_entropy(a, tc.tensor(t), reduction="sum").backward()
    assert_exact(to_np(a.grad), [[0.0, 0.5, -0.5], [1 / 3, 1 / 3, -2 / 3]], "cross_entropy gradient")


def test_long_rows_exact(rng):
    """Row sums of 250,000 exps (the softmax kernels' sums over blocks)."""
    x = (rng.standard_normal((4, 250000)) * 3).astype(np.float32)
    check(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [x], rng)
    check(lambda t: t.log_softmax(1), lambda t: t.log_softmax(1), [x], rng)


# ---- losses -----------------------------------------------------------------------------------------
CE_OPTIONS = {
    "plain": {},
    "weight": {"weight": np.linspace(0.5, 2.0, 100)},
    "label_smoothing": {"label_smoothing": 0.1},
    "ignore_index": {"ignore_index": 5},
    "all": {"weight": np.linspace(0.5, 2.0, 100), "label_smoothing": 0.2, "ignore_index": 7},
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("options", CE_OPTIONS)
@pytest.mark.parametrize("scale", [3.0, 1e3])
def test_cross_entropy_exact(options, reduction, scale, rng):
    x = (rng.standard_normal((256, 100)) * scale).astype(np.float32)
    t = rng.integers(0, 100, 256)
    t[::9] = 5
    t[::11] = 7

    def kw(lib, dtype):
        out = dict(CE_OPTIONS[options], reduction=reduction)
        if "weight" in out:
            out["weight"] = (tc.tensor(out["weight"].astype(np.float32)) if lib is tc else
                             torch.tensor(out["weight"].astype(np.float32).astype(dtype)))
        return out
    check(lambda a: F.cross_entropy(a, tc.tensor(t), **kw(tc, np.float32)),
          lambda a: TF.cross_entropy(a, torch.tensor(t), **kw(torch, np.float64)), [x], rng)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_nll_loss_exact(reduction, rng):
    x = (rng.standard_normal((256, 100)) * 30).astype(np.float32)
    t = rng.integers(0, 100, 256)
    check(lambda a: F.nll_loss(a.log_softmax(1), tc.tensor(t), ignore_index=3, reduction=reduction),
          lambda a: TF.nll_loss(a.log_softmax(1), torch.tensor(t), ignore_index=3, reduction=reduction), [x], rng)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_binary_cross_entropy_exact(reduction, rng):
    p = np.concatenate([rng.uniform(0.001, 0.999, 30000), [1e-6, 0.5, 1 - 1e-6]]).astype(np.float32)
    t = rng.uniform(0, 1, p.size).astype(np.float32)
    check(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
          lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), [p, t], rng)


@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_binary_cross_entropy_with_logits_exact(pos_weight, x_act, rng):
    t = rng.uniform(0, 1, x_act.size).astype(np.float32)
    w = rng.uniform(0.5, 2, x_act.size).astype(np.float32)

    def ours(a, b):
        pw = None if pos_weight is None else tc.tensor(np.float32(pos_weight))
        return F.binary_cross_entropy_with_logits(a, b, weight=tc.tensor(w), pos_weight=pw, reduction="none")

    def exact(a, b):
        pw = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64)
        return TF.binary_cross_entropy_with_logits(a, b, weight=torch.tensor(w.astype(np.float64)), pos_weight=pw,
                                                   reduction="none")
    check(ours, exact, [x_act, t], rng)


# ---- sums --------------------------------------------------------------------------------------------
def test_fused_sum_accumulates_in_float64(device):
    """10^6 x 0.1 summed inside a fused program: 99999.969 when the block sums were float32;
    in float64 the result is the exact sum rounded once (100000.0)."""
    if not getattr(tc.tensor([1.0])._b, "fused_ops", None):
        pytest.skip(f"{device} runs no fused programs")
    x = tc.tensor(np.full(10**6, 0.1, np.float32))
    w = tc.tensor(np.ones(10**6, np.float32))
    for data in (x, tc.tensor(np.random.default_rng(5).standard_normal(10**6).astype(np.float32) + 0.5)):
        y = data * w
        assert lazy.is_pending(y._data)  # the sum below runs inside the fused program
        s = y.sum()
        exact = to_np(data).astype(np.float64).sum()
        assert abs(float(to_np(s)) - exact) <= 0.5001 * np.spacing(np.float32(exact)), (float(to_np(s)), exact)


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std"])
@pytest.mark.parametrize("dim", [None, 0, 1, 2, (0, 2), (1, 2)], ids=["all", "0", "1", "2", "0+2", "1+2"])
def test_reductions_of_a_million_exact(op, dim, rng):
    # a mean far from 0 (10): float32 adds one row at a time down 1000 rows drifted by 2e-6
    x = (rng.standard_normal((1000, 100, 10)) * 3 + 10).astype(np.float32)
    check(lambda t: getattr(t, op)(dim), lambda t: getattr(t, op)(dim), [x], rng, grad=False)


def test_layer_norm_statistics_exact(rng):
    x = (rng.standard_normal((4, 250000)) * 3 + 10).astype(np.float32)
    check(lambda t: F.layer_norm(t, (250000,)), lambda t: TF.layer_norm(t, (250000,)), [x], rng)


def test_batch_norm_statistics_exact(rng):
    """10^6 values per channel, over two axes that are not one run of memory."""
    x = (rng.standard_normal((10000, 4, 100)) * 3 + 10).astype(np.float32)
    check(lambda t: F.batch_norm(t, None, None, training=True),
          lambda t: TF.batch_norm(t, None, None, training=True), [x], rng)
