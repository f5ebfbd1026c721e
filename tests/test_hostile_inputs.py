"""Bad arguments and edge-case data, as a hostile user passes them (issue 12, part 5): every device
gives torch's answer (its value, or its error type with a message naming the function and what was
passed), and a refused call changes nothing. torch is the oracle wherever it has the behaviour."""
import re
import warnings

import numpy as np
import pytest
from helpers import assert_close, to_np

import tinygrad_chain as tc
import tinygrad_chain.nn.functional as F

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402


# ---- conv, pool: geometry checked once, above the backends ------------------------------------------
def _window_inputs(lib, name):
    one_d = name.endswith("1d")
    x = lib.ones(1, 1, 5) if one_d else lib.ones(1, 1, 5, 5)
    if "conv" not in name:
        return (x,)
    return x, lib.ones(1, 1, 3) if one_d else lib.ones(1, 1, 3, 3)


_CONVS = ("conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d")
_POOLS = ("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d")
_BAD_WINDOWS = (
    [(name, {"padding": -1}, "negative padding is not supported") for name in _CONVS]
    + [(name, {"stride": 0}, "stride should be greater than zero") for name in _CONVS]
    + [(name, {"stride": -2}, "stride should be greater than zero") for name in _CONVS]
    + [(name, {"dilation": 0}, "dilation should be greater than zero") for name in _CONVS]
    + [(name, {"groups": 0}, "non-positive groups is not supported") for name in _CONVS]
    + [("conv2d", {"padding": (1, -1)}, "negative padding is not supported"),
       ("conv_transpose2d", {"padding": -2}, "negative padding is not supported"),
       ("conv_transpose2d", {"output_padding": -1}, "negative output_padding is not supported"),
       ("conv2d", {"weight": (1, 1, 7, 7)}, "Kernel size can't be greater than actual input size"),
       ("conv1d", {"weight": (1, 1, 7)}, "Kernel size can't be greater than actual input size"),
       ("conv_transpose2d", {"padding": 4}, "Output size is too small")]
    + [(name, {"kernel_size": 2, "stride": 0}, "stride should be greater than zero") for name in _POOLS]
    + [(name, {"kernel_size": 0}, "kernel_size should be greater than zero") for name in _POOLS]
    + [(name, {"kernel_size": 2, "padding": -1}, "negative padding is not supported") for name in _POOLS]
    + [(name, {"kernel_size": 2, "padding": 2}, "pad should be at most half") for name in _POOLS]
    + [(name, {"kernel_size": 7}, "Output size is too small") for name in _POOLS]
    + [(name, {"kernel_size": 2, "dilation": 0}, "dilation should be greater than zero")
       for name in ("max_pool1d", "max_pool2d")]
    + [(name, {"output_size": -1}, "output_size must be non-negative")
       for name in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d")])


@pytest.mark.parametrize("name,kwargs,phrase", _BAD_WINDOWS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw, _ in _BAD_WINDOWS])
def test_bad_window_arguments_are_refused_like_torch(name, kwargs, phrase):
    kwargs = dict(kwargs)
    weight = kwargs.pop("weight", None)
    for lib, fmod in ((torch, TF), (tc, F)):
        inputs = _window_inputs(lib, name)
        if weight is not None:
            inputs = (inputs[0], lib.ones(*weight))
        if lib is torch:
            with pytest.raises(RuntimeError):  # torch refuses it too (its wording varies by op)
                getattr(fmod, name)(*inputs, **kwargs)
        else:
            before = [to_np(t) for t in inputs]
            with pytest.raises(RuntimeError, match=rf"^{name}\(?\)?: .*{phrase}"):
                getattr(fmod, name)(*inputs, **kwargs)
            for t, b in zip(inputs, before):
                assert np.array_equal(to_np(t), b) and t._version[0] == 0


def test_non_integer_window_arguments():
    x, w = tc.ones(1, 1, 5, 5), tc.ones(1, 1, 3, 3)
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of 2 ints, got 1\.5"):
        F.conv2d(x, w, stride=1.5)
    with pytest.raises(TypeError, match=r"max_pool2d: kernel_size .* got '2'"):
        F.max_pool2d(x, "2")
    with pytest.raises(ValueError, match=r"expected 2 values for conv2d: padding, got \[1, 1, 1\]"):
        F.conv2d(x, w, padding=(1, 1, 1))
    with pytest.raises(TypeError):  # torch: TypeError as well
        TF.conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), stride=1.5)


@pytest.mark.parametrize("name,kwargs", [
    ("conv1d", {"stride": 2, "padding": 1, "dilation": 2}), ("conv1d", {"padding": "same", "dilation": 2}),
    ("conv2d", {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)}),
    ("conv_transpose1d", {"stride": 2, "padding": 1, "output_padding": 1, "dilation": 1}),
    ("conv_transpose2d", {"stride": 2, "padding": (1, 0), "dilation": (1, 2)}),
    ("max_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1}),
    ("max_pool2d", {"kernel_size": 2, "stride": 1, "dilation": 2}),
    ("avg_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("avg_pool2d", {"kernel_size": 3, "padding": 1, "ceil_mode": True}),
])
def test_valid_window_arguments_still_agree_with_torch(name, kwargs, rng):
    one_d = name.endswith("1d")
    x = rng.standard_normal((2, 2, 7) if one_d else (2, 2, 7, 6)).astype(np.float32)
    w = rng.standard_normal((2, 2, 3) if one_d else (2, 2, 3, 3)).astype(np.float32)
    results = []
    for lib, fmod in ((torch, TF), (tc, F)):
        leaves = [lib.tensor(a).requires_grad_() for a in ((x, w) if "conv" in name else (x,))]
        out = getattr(fmod, name)(*leaves, **kwargs)
        (out * out).sum().backward()
        results.append([out.detach().numpy() if lib is torch else to_np(out)]
                       + [leaf.grad.numpy() if lib is torch else to_np(leaf.grad) for leaf in leaves])
    for expected, actual in zip(*results):
        assert_close(actual, expected, atol=1e-4)


# ---- losses name themselves ---------------------------------------------------------------------------
def test_class_index_loss_errors_name_the_function():
    for name, fn in (("cross_entropy", F.cross_entropy), ("nll_loss", F.nll_loss)):
        with pytest.raises(ValueError, match=rf"^{name}: Expected input batch_size \(4\) to match target "
                                             rf"batch_size \(5\)"):
            fn(tc.ones(4, 3), tc.zeros(5, dtype=tc.int64))
        with pytest.raises(IndexError, match=rf"^{name}: Target 7 is out of bounds"):
            fn(tc.ones(4, 3), tc.tensor([7, 0, 1, 2]))
        with pytest.raises(IndexError, match=rf"^{name}: Target -3 is out of bounds"):
            fn(tc.ones(4, 3), tc.tensor([0, -3, 1, 2]))
        with pytest.raises(RuntimeError, match=rf"^{name}: input must have at least 1 dimension"):
            fn(tc.tensor(1.0), tc.tensor(0))
    with pytest.raises(RuntimeError, match=r"^nll_loss: expected scalar type Long but found float32"):
        F.nll_loss(tc.ones(4, 3), tc.zeros(4))
    # the same error types as torch
    with pytest.raises(ValueError):
        TF.cross_entropy(torch.ones(4, 3), torch.zeros(5, dtype=torch.int64))
    with pytest.raises(IndexError):
        TF.nll_loss(torch.ones(4, 3), torch.tensor([7, 0, 1, 2]))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"])
def test_every_loss_error_names_the_function(name):
    fn = getattr(F, name)
    with pytest.raises(ValueError, match=rf"^{name}: nope is not a valid value for reduction"):
        fn(tc.ones(4, 3) * 0.5, tc.zeros(4, dtype=tc.int64) if name in ("cross_entropy", "nll_loss")
           else tc.ones(4, 3) * 0.5, reduction="nope")
    if name not in ("cross_entropy", "nll_loss"):
        with warnings.catch_warnings(), pytest.raises((RuntimeError, ValueError), match=rf"^{name}\b"):
            warnings.simplefilter("ignore")
            fn(tc.ones(4, 3) * 0.5, tc.ones(2, 3) * 0.5)


def test_losses_of_no_samples_are_nan_like_torch():
    for lib, fmod in ((torch, TF), (tc, F)):
        x = lib.ones(0, 5, requires_grad=True)
        t = lib.zeros(0, dtype=lib.int64)
        for loss in (fmod.cross_entropy(x, t), fmod.nll_loss(x, t), fmod.mse_loss(x, x.detach()),
                     fmod.cross_entropy(x, t, label_smoothing=0.1)):
            assert np.isnan(loss.item())
        total = fmod.cross_entropy(x, t, reduction="sum")
        assert total.item() == 0.0
        total.backward()
        assert tuple(x.grad.shape) == (0, 5)
    with pytest.raises(RuntimeError):  # a float (class-probability) target must have the input's shape
        TF.cross_entropy(torch.ones(0, 5), torch.zeros(0))
    with pytest.raises(RuntimeError, match="cross_entropy"):
        F.cross_entropy(tc.ones(0, 5), tc.zeros(0))


# ---- empty and 0-d tensors: every reduction against torch ----------------------------------------------
def _reductions():
    ops = {}
    for name in ("sum", "mean", "var", "std", "prod", "amax", "amin", "max", "min", "argmax", "argmin",
                 "logsumexp", "softmax", "log_softmax", "cumsum", "all", "any"):
        ops[f"{name}(0)"] = lambda t, n=name: getattr(t, n)(0)
        ops[f"{name}(-1)"] = lambda t, n=name: getattr(t, n)(-1)
        ops[f"{name}(0, keepdim)"] = lambda t, n=name: getattr(t, n)(0, keepdim=True) \
            if n not in ("softmax", "log_softmax", "cumsum") else getattr(t, n)(0)
        if name not in ("logsumexp", "softmax", "log_softmax", "cumsum"):
            ops[f"{name}()"] = lambda t, n=name: getattr(t, n)()
    ops.update({
        "var(0, unbiased=False)": lambda t: t.var(0, unbiased=False), "std((0,))": lambda t: t.std((0,)),
        "sum((0, 1))": lambda t: t.sum((0, 1)), "mean((0, 1))": lambda t: t.mean((0, 1)),
        "logsumexp((0, 1))": lambda t: t.logsumexp((0, 1)), "max(0).values": lambda t: t.max(0)[0],
        "min(-1).indices": lambda t: t.min(-1)[1], "norm()": lambda t: t.norm(), "norm(1, 0)": lambda t: t.norm(1, 0),
        "norm(0)": lambda t: t.norm(0), "norm(inf)": lambda t: t.norm(float("inf")),
        "norm(-1, -1)": lambda t: t.norm(-1, -1), "norm(inf, 0)": lambda t: t.norm(float("inf"), 0),
    })
    return ops


_REDUCTIONS = _reductions()


def _outcome(lib, shape, fn, grad):
    x = lib.full(shape, 1.5, dtype=lib.float32, requires_grad=grad)
    try:
        out = fn(x)
        out = out[0] if isinstance(out, tuple) else out  # max(dim): the values
        value = out.detach().numpy() if lib is torch else to_np(out)
        if grad:
            out.sum().backward() if out.dtype in (torch.float32, tc.float32) else None
            g = x.grad
            g = None if g is None else (g.numpy() if lib is torch else to_np(g))
            return "ok", value, g
        return "ok", value, None
    except (RuntimeError, IndexError, ValueError, TypeError) as e:
        return "error", type(e), str(e)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 3), ()], ids=str)
def test_reductions_of_empty_and_0d_tensors_match_torch(shape):
    failures = []
    for name, fn in _REDUCTIONS.items():
        for grad in (False, True):
            want, got = _outcome(torch, shape, fn, grad), _outcome(tc, shape, fn, grad)
            if want[0] != got[0]:
                failures.append(f"{name} grad={grad}: torch {want[:2]}, tinygrad_chain {got[:3]}")
            elif want[0] == "error":
                if want[1] is not got[1]:
                    failures.append(f"{name} grad={grad}: torch raises {want[1].__name__}, tinygrad_chain "
                                    f"{got[1].__name__}: {got[2]}")
            else:
                if want[1].shape != got[1].shape or not np.allclose(want[1], got[1], equal_nan=True):
                    failures.append(f"{name} grad={grad}: torch {want[1]!r}, tinygrad_chain {got[1]!r}")
                # torch leaves no gradient for the count norm(0); ours is a zero gradient
                if grad and want[2] is not None and (want[2].shape != got[2].shape
                                                     or not np.allclose(want[2], got[2], equal_nan=True)):
                    failures.append(f"{name} grad: torch {want[2]!r}, tinygrad_chain {got[2]!r}")
    assert not failures, "\n".join(failures)


def test_issue_examples_on_empty_and_0d():
    assert np.isnan(tc.ones(0, 3).mean().item())
    assert np.isnan(tc.ones(0).std().item())
    assert np.isnan(F.cross_entropy(tc.ones(0, 5), tc.zeros(0, dtype=tc.int64)).item())
    assert tc.ones(0).logsumexp(0).item() == float("-inf")
    assert tc.ones(5, 0).log_softmax(-1).shape == (5, 0)
    values, indices = tc.tensor(3.0).max(0)
    assert values.shape == () and values.item() == 3.0 and indices.item() == 0
    s = tc.tensor(3.0, requires_grad=True)
    p = s.softmax(0)
    assert p.shape == () and p.item() == 1.0
    (p * 2).backward()
    assert s.grad.item() == 0.0
    with pytest.raises(IndexError, match=r"^max\(\): Expected reduction dim 1 to have non-zero size.*\[3, 0\]"):
        tc.ones(3, 0).max(1)
    with pytest.raises(RuntimeError, match=r"^amax\(\): Expected reduction dim to be specified.*\[0, 3\]"):
        tc.ones(0, 3).amax()


def test_norm_p0_counts_nonzeros():
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]], np.float32)
    x = tc.tensor(a, requires_grad=True)
    assert_close(x.norm(0), torch.tensor(a).norm(0).numpy())
    assert_close(x.norm(0, dim=1), torch.tensor(a).norm(0, dim=1).numpy())
    x.norm(0).backward()
    assert_close(x.grad, np.zeros_like(a))


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_layer_on_empty_sequence(mode):
    m = getattr(tc.nn, mode)(3, 4)
    for shape in ((0, 2, 3), (0, 3)):
        with pytest.raises(RuntimeError, match=rf"^{mode}\(3, 4\): Expected sequence length to be larger than 0.*"
                                               rf"{re.escape(str(list(shape)))}"):
            m(tc.ones(*shape))
        with pytest.raises(RuntimeError, match="sequence length"):
            getattr(torch.nn, mode)(3, 4)(torch.ones(*shape))
    out = m(tc.ones(2, 0, 3))  # an empty batch is fine, as in torch
    assert out[0].shape == (2, 0, 4)


# ---- integer division by zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    lambda lib: lib.tensor([1, 2]) // 0, lambda lib: lib.tensor([1, 2]) % 0,
    lambda lib: lib.tensor([1, 2]) // lib.tensor([3, 0]), lambda lib: lib.tensor([1, 2]) % lib.tensor(0),
    lambda lib: 5 // lib.tensor([1, 0]), lambda lib: 5 % lib.tensor([0, 1]),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32) // lib.tensor([0, 0], dtype=lib.int32),
], ids=["floordiv0", "mod0", "floordiv_tensor", "mod_0d", "rfloordiv", "rmod", "int32"])
def test_integer_division_by_zero_raises(expr):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):  # torch: RuntimeError("ZeroDivisionError")
        expr(torch)
    with pytest.raises(ZeroDivisionError, match=r"^(floordiv|remainder): integer division by zero \(inputs: .*int"):
        expr(tc)


def test_float_division_by_zero_is_ieee_like_torch():
    for expr in (lambda lib: lib.tensor([1.0, -2.0]) // 0, lambda lib: lib.tensor([1, 2]) // 0.0,
                 lambda lib: lib.tensor([1.0, 2.0]) % 0, lambda lib: lib.tensor([1, 2]) / 0,
                 lambda lib: lib.tensor([4, 7]) // lib.tensor([3, -2])):
        assert_close(expr(tc), expr(torch).numpy())
    t = tc.tensor([4, 6])
    with pytest.raises(ZeroDivisionError):
        t //= 0
    assert t.tolist() == [4, 6] and t._version[0] == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_at_zero_and_denormals_are_torch_s(dtype):
    """x ** y at x = 0, y = 0 has gradient 0 for x (torch masks y == 0; y * x ** (y - 1) is 0 * inf); the
    divisor's gradient of 0 / 1e-40 is -0 / 1e-40 / 1e-40, not 0 / (1e-40 * 1e-40) = 0 / 0 in float32."""
    def grads(lib, f, *values):
        ts = [lib.tensor(np.array(v, dtype), requires_grad=True) for v in values]
        f(*ts).sum().backward()
        return [to_np(t.grad) if lib is tc else t.grad.numpy() for t in ts]

    base, exponent = [0.0, 0.0, 2.0, 0.0, 3.0], [0.0, 2.0, 0.0, 0.5, 1.0]
    numerator, divisor = [0.0, -0.0, 1.0, 0.0], [1e-40, 1e-40, 2.0, -3.0]
    for f, values in ((lambda x, y: x ** y, (base, exponent)), (lambda x, y: x / y, (numerator, divisor))):
        for ours, theirs in zip(grads(tc, f, *values), grads(torch, f, *values)):
            np.testing.assert_array_equal(ours, theirs)  # NaN-free, and the zeros' signs too
            assert np.array_equal(np.signbit(ours), np.signbit(theirs))


# ---- tensor creation from hostile data ----------------------------------------------------------------------
@pytest.mark.parametrize("data,error,match", [
    ([2 ** 63], OverflowError, r"out of range for int64.*9223372036854775808"),
    ([-2 ** 63 - 1], OverflowError, r"out of range for int64"),
    ([1, 2 ** 63], OverflowError, r"out of range for int64"),
    ([[1], [2 ** 64]], OverflowError, r"out of range for int64"),
    (np.array([1, 2 ** 64 - 1], np.uint64), OverflowError, r"out of range for int64.*uint64 array of shape \[2\]"),
    (["a"], TypeError, r"can't convert a string to a number: got \['a'\]"),
    ([1, "a"], TypeError, r"can't convert a string.*\[1, 'a'\]"),
    ("abc", TypeError, r"can't convert a string"),
    ([None], TypeError, r"can't convert None \(type NoneType\)"),
    (None, TypeError, r"can't convert None"),
    ([1.0, {}], TypeError, r"can't convert \{\} \(type dict\)"),
    ({1, 2}, TypeError, r"type set"),
    ((i for i in range(3)), TypeError, r"type generator"),
    (np.array([1, None], dtype=object), TypeError, r"can't convert None"),
    ([[1, 2], [3]], ValueError, r"rectangular.*\[\[1, 2\], \[3\]\]"),
    ([[1, 2], 3], ValueError, r"rectangular"),
    ([1 + 2j], TypeError, r"complex numbers are not supported.*\(1\+2j\)"),
    (np.array([1j], np.complex64), TypeError, r"complex numbers are not supported.*complex64 array"),
    (np.array([1.5], np.longdouble), TypeError, r"dtype float128 is not supported|dtype float64 is not"),
    (np.array(["2020-01-01"], "datetime64[D]"), TypeError, r"datetime64\[D\] is not supported"),
], ids=["2**63", "-2**63-1", "mixed_2**63", "nested_2**64", "uint64_big", "str_list", "mixed_str", "str", "None_list",
        "None", "dict", "set", "generator", "object_None", "ragged", "ragged_scalar", "complex", "complex64",
        "longdouble", "datetime"])
def test_tensor_refuses_hostile_data(data, error, match):
    if isinstance(data, np.ndarray) and data.dtype == np.float64:  # longdouble is float64 on some platforms
        pytest.skip("numpy.longdouble is float64 here")
    with pytest.raises(error, match=rf"^tensor\(\): .*{match}"):
        tc.tensor(data)
    if "complex" in match or "uint64" in match:
        return  # torch has complex and uint64 tensors
    with pytest.raises((TypeError, ValueError, RuntimeError)):  # torch refuses the rest too
        torch.tensor(data)


@pytest.mark.parametrize("dtype,values", [("uint8", [0, 255]), ("uint16", [1, 65535]), ("uint32", [2, 2 ** 32 - 1]),
                                          ("int8", [-128, 127]), ("int16", [-32768, 7]), ("uint64", [0, 2 ** 63 - 1])])
def test_tensor_widens_numpy_dtypes_exactly(dtype, values):
    a = np.array(values, dtype=dtype)  # (float16 is a dtype of its own: tests/test_half.py)
    t = tc.tensor(a)
    assert t.tolist() == torch.tensor(a).tolist() == values
    if dtype in ("uint8", "int8", "int16"):  # dtypes of their own, shared by from_numpy (tests/test_small_int.py)
        assert t.dtype is getattr(tc, dtype) and tc.from_numpy(a).dtype is t.dtype
        return
    assert t.dtype is tc.int64
    assert tc.tensor(a[0]).item() == values[0]  # a NumPy scalar too
    with pytest.raises(TypeError, match=rf"^from_numpy\(\): can't share the memory of a {dtype} array"):
        tc.from_numpy(a)


def test_tensor_big_ints_become_float_only_among_floats_or_when_asked():
    # torch's rule: a float anywhere makes float data; ints only must fit int64
    for data in ([2 ** 63, 1.5], [[2 ** 64], [1.0]]):
        assert_close(tc.tensor(data), torch.tensor(data).numpy(), rtol=1e-6)
    assert tc.tensor([2 ** 63], dtype=tc.float64).item() == 2.0 ** 63
    assert tc.tensor(np.array([2 ** 64 - 1], np.uint64), dtype=tc.float64).item() == 2.0 ** 64
    assert tc.tensor([-2 ** 63, 2 ** 63 - 1]).tolist() == [-2 ** 63, 2 ** 63 - 1]
    assert tc.tensor(np.array([1, 2.5], dtype=object)).tolist() == [1.0, 2.5]
    with pytest.raises(TypeError, match=r"^from_numpy\(\): expected np.ndarray \(got list\)"):
        tc.from_numpy([1, 2])


def test_generator_must_be_a_generator():
    from tinygrad_chain.utils.data import DataLoader, RandomSampler, TensorDataset, random_split
    ds = TensorDataset(tc.arange(4))
    for who, make in (("DataLoader", lambda: DataLoader(ds, shuffle=True, generator=42)),
                      ("RandomSampler", lambda: RandomSampler(ds, generator=42)),
                      ("random_split", lambda: random_split(ds, [2, 2], generator=42))):
        with pytest.raises(TypeError, match=rf"^{who}: generator must be a tc.Generator or None, got 42 \(type int\)"):
            make()
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=tc.Generator().manual_seed(3))
    assert sorted(next(iter(loader))[0].tolist()) == [0, 1, 2, 3]


# ---- a 0-d CPU tensor meets tensors on any device --------------------------------------------------------------
def test_cpu_scalar_tensor_joins_another_device(device, other_device):
    if other_device is None:
        pytest.skip("one device only")
    a = np.array([1.0, 2.0, 3.0], np.float32)
    x = tc.tensor(a, requires_grad=True)
    s = tc.tensor(14.0, device=other_device, requires_grad=True)
    tx, ts = torch.tensor(a, requires_grad=True), torch.tensor(14.0, requires_grad=True)
    for out, want in (((x / s).sum(), (tx / ts).sum()), ((s * x).sum(), (ts * tx).sum()),
                      (tc.where(x > 1.5, s, x).sum(), torch.where(tx > 1.5, ts, tx).sum())):
        assert out.device == device
        assert_close(out, want.detach().numpy())
        out.backward()
        want.backward()
    assert x.grad.device == device and s.grad.device == other_device  # each on its own device
    assert_close(x.grad, tx.grad.numpy())
    assert_close(s.grad, ts.grad.numpy())
    # two CPU scalars on two devices: the first one's device
    assert (tc.tensor(2.0) + tc.tensor(3.0, device=other_device)).device == device
    # anything else on two devices is still an error, before anything changes
    y = tc.ones(3, device=other_device)
    with pytest.raises(RuntimeError, match="same device"):
        x + y.reshape(3)
    with pytest.raises(RuntimeError, match="same device"):
        x + tc.ones(1, device=other_device)
