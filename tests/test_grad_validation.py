"""Gradients that do not fit their tensor (issue 12, section 4): what hooks, Function.backward,
built-in VJPs, `.grad =` and `Optimizer.load_state_dict` may hand over, and what is refused.
torch 2.13 is the oracle for which cases are accepted and for the wording of the messages."""
import numpy as np
import pytest
from helpers import assert_close, to_np

import tinygrad_chain as tc
import tinygrad_chain.nn.functional as F
from tinygrad_chain.ops.nn_ops import AvgPool2dBackward
from tinygrad_chain.ops.registry import Op, apply


def _torch():
    return pytest.importorskip("torch")


def _error(fn):
    """The exception fn raises (None if it returns)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (any error is compared)
        return e
    return None


# ---- hooks: a replacement must be a tensor of the same size, dtype and device ------------------
def _hooked_backward(lib, hook, leaf, **kw):
    x = lib.ones(3, requires_grad=True, **kw)
    y = x * 2
    (x if leaf else y).register_hook(hook)
    (y * y).sum().backward()
    return x.grad


@pytest.mark.parametrize("leaf", [False, True])
def test_hook_that_changes_the_size_raises_like_torch(leaf):
    torch = _torch()
    for bad in (5, 1):  # larger, and one a broadcast could stretch: both refused
        theirs = _error(lambda: _hooked_backward(torch, lambda g: torch.ones(bad), leaf))
        ours = _error(lambda: _hooked_backward(tc, lambda g: tc.ones(bad), leaf))
        assert "has changed the size of value" in str(theirs)
        assert type(ours) is RuntimeError and "hook '<lambda>' has changed the size of value" in str(ours)
        assert f"was [3] got [{bad}]" in str(ours)


@pytest.mark.parametrize("leaf", [False, True])
def test_hook_that_changes_the_dtype_raises_like_torch(leaf):
    torch = _torch()
    theirs = _error(lambda: _hooked_backward(torch, lambda g: g.double(), leaf))
    ours = _error(lambda: _hooked_backward(tc, lambda g: g.double(), leaf))
    assert "has changed the type of value" in str(theirs)
    assert type(ours) is RuntimeError and "hook '<lambda>' has changed the type of value" in str(ours)
    assert "was float32" in str(ours) and "got float64" in str(ours)


def test_hook_that_moves_the_gradient_raises(device, other_device):
    if other_device is None:
        pytest.skip("one device only")
    err = _error(lambda: _hooked_backward(tc, lambda g: g.to(other_device), False))
    assert type(err) is RuntimeError
    assert f"has changed the type of value (was float32 on {device} got float32 on {other_device})" in str(err)


@pytest.mark.parametrize("leaf", [False, True])
def test_hook_returning_a_non_tensor_is_a_type_error(leaf):
    torch = _torch()
    assert type(_error(lambda: _hooked_backward(torch, lambda g: 5, leaf))) is TypeError
    with pytest.raises(TypeError, match="hook '<lambda>' returned 'int'"):
        _hooked_backward(tc, lambda g: 5, leaf)


@pytest.mark.parametrize("leaf", [False, True])
def test_hook_replacement_that_fits_is_used(leaf):
    torch = _torch()
    # d/dx (2x)^2 = 8x; a hook on y replaces dL/dy (= 2y = 4) by 10: x.grad = 10 * dy/dx = 20
    theirs = _hooked_backward(torch, lambda g: torch.full((3,), 10.0), leaf)
    ours = _hooked_backward(tc, lambda g: tc.full((3,), 10.0), leaf)
    assert_close(ours, theirs.numpy(), atol=0, rtol=0)
    assert_close(ours, [10.0] * 3 if leaf else [20.0] * 3, atol=0, rtol=0)


def test_hook_on_avg_pool2d_output_cannot_change_the_batch():
    """The issue's case: x.grad came back (1, 1, 16, 16) for x of shape (2, 3, 16, 16)."""
    x = tc.ones(2, 3, 16, 16, requires_grad=True)
    y = F.avg_pool2d(x, 2)
    y.register_hook(lambda g: tc.ones(1, 1, 8, 8))
    with pytest.raises(RuntimeError, match=r"has changed the size of value \(was \[2, 3, 8, 8\] got \[1, 1, 8, 8\]\)"):
        y.sum().backward()
    assert x.grad is None


def test_avg_pool2d_backward_refuses_a_grad_of_other_batch_and_channels():
    """The pooling VJP's kernel took N and C from the gradient, not from the input it records."""
    g = tc.ones(1, 1, 8, 8)
    with pytest.raises(RuntimeError, match=r"avg_pool2d_backward: grad_output of shape \[1, 1, 8, 8\]"):
        apply(AvgPool2dBackward, g, x_shape=(2, 3, 16, 16), kernel=(2, 2), stride=(2, 2), padding=(0, 0),
              divisor=4.0)
    # the same call with a fitting gradient: each input element gets 1/4 of its window's gradient
    out = apply(AvgPool2dBackward, tc.ones(2, 3, 8, 8), x_shape=(2, 3, 16, 16), kernel=(2, 2), stride=(2, 2),
                padding=(0, 0), divisor=4.0)
    assert_close(out, np.full((2, 3, 16, 16), 0.25), atol=0, rtol=0)


# ---- Function.backward: summed back like a broadcast, cast, or refused ---------------------------
def _function(lib, make_grad, name="Misfit"):
    """A Function class (torch's or ours) computing 2x whose backward returns make_grad(lib, g)."""
    def forward(ctx, x):
        return x * 2

    def backward(ctx, g):
        return make_grad(lib, g)

    return type(name, (lib.autograd.Function,), {"forward": staticmethod(forward),
                                                  "backward": staticmethod(backward)})


def _function_grad(lib, make_grad, **kw):
    x = lib.ones(3, requires_grad=True, **kw)
    _function(lib, make_grad).apply(x).sum().backward()
    return x.grad


@pytest.mark.parametrize("shape", [(5,), (1,), (3, 1), (2, 2)])
def test_function_gradient_of_wrong_shape_raises_like_torch(shape):
    torch = _torch()
    theirs = _error(lambda: _function_grad(torch, lambda lib, g: lib.ones(*shape)))
    ours = _error(lambda: _function_grad(tc, lambda lib, g: lib.ones(*shape)))
    expected = (f"Function MisfitBackward returned an invalid gradient at index 0 - got {list(shape)} but "
                f"expected shape compatible with [3]")
    assert str(theirs) == expected
    assert type(ours) is RuntimeError and str(ours) == expected


@pytest.mark.parametrize("shape", [(2, 3), (4, 1, 3)])
def test_function_gradient_with_broadcast_axes_is_summed_like_torch(shape):
    torch = _torch()
    values = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    theirs = _function_grad(torch, lambda lib, g: torch.tensor(values))
    ours = _function_grad(tc, lambda lib, g: tc.tensor(values))
    assert ours.shape == (3,)
    assert_close(ours, theirs.numpy(), atol=0, rtol=0)


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_function_gradient_of_other_dtype_is_cast_like_torch(dtype):
    torch = _torch()
    theirs = _function_grad(torch, lambda lib, g: torch.tensor([1, 2, 3], dtype=getattr(torch, dtype)))
    ours = _function_grad(tc, lambda lib, g: tc.tensor([1, 2, 3], dtype=getattr(tc, dtype)))
    assert ours.dtype is tc.float32 and theirs.dtype == torch.float32
    assert_close(ours, theirs.numpy(), atol=0, rtol=0)


def test_function_gradient_on_another_device(device, other_device):
    if other_device is None:
        pytest.skip("one device only")
    with pytest.raises(RuntimeError, match=f"Function MisfitBackward returned an invalid gradient at index 0 - "
                                           f"expected device {device} but got {other_device}"):
        _function_grad(tc, lambda lib, g: g.to(other_device) * 3)
    # a 0-d gradient is moved to its input's device, as torch does
    x = tc.tensor(1.5, requires_grad=True)
    _function(tc, lambda lib, g: tc.tensor(4.0, device=other_device)).apply(x).backward()
    assert x.grad.device == device and x.grad.item() == 4.0


def test_function_gradient_that_is_not_a_tensor_is_a_type_error():
    torch = _torch()
    assert "expected Variable or None (got int)" in str(_error(lambda: _function_grad(torch, lambda lib, g: 5)))
    with pytest.raises(TypeError, match="function MisfitBackward returned a gradient of type int at index 0; "
                                        "expected a Tensor or None"):
        _function_grad(tc, lambda lib, g: 5)


def test_function_gradient_for_a_non_tensor_input_raises_like_torch():
    torch = _torch()

    def run(lib):
        def forward(ctx, x, k):
            return x * k

        def backward(ctx, g):
            return g * 3.0, lib.ones(1)

        fn = type("Scale", (lib.autograd.Function,), {"forward": staticmethod(forward),
                                                       "backward": staticmethod(backward)})
        x = lib.ones(3, requires_grad=True)
        fn.apply(x, 3.0).sum().backward()
        return x.grad

    theirs, ours = _error(lambda: run(torch)), _error(lambda: run(tc))
    assert "returned a gradient different than None at position 2" in str(theirs)
    assert type(ours) is RuntimeError
    assert str(ours) == ("function ScaleBackward returned a gradient different than None at position 2, but the "
                         "corresponding forward input was not a Tensor")


class _MisfitOp(Op):
    """A built-in style op (identity) whose VJP returns the gradient of a different shape."""
    name = "misfit_for_test"

    def forward(self, b, x):
        return b.copy(x)

    def vjp(self, ctx, g):
        return (g.reshape(-1)[:1],)


def test_builtin_vjp_of_wrong_shape_names_the_op():
    x = tc.ones(2, 3, requires_grad=True)
    y = apply(_MisfitOp(), x)
    with pytest.raises(RuntimeError, match=r"Function MisfitForTestBackward0 returned an invalid gradient at index 0 "
                                           r"- got \[1\] but expected shape compatible with \[2, 3\]"):
        y.sum().backward()
    assert x.grad is None


# ---- .grad = : type, identity, dtype, device and size are checked at the assignment -----------
def test_assigning_a_grad_of_another_size_raises_like_torch():
    torch = _torch()
    tp = torch.zeros(200, 300, requires_grad=True)
    theirs = _error(lambda: setattr(tp, "grad", torch.ones(300)))
    p = tc.zeros(200, 300, requires_grad=True)
    ours = _error(lambda: setattr(p, "grad", tc.ones(300)))
    assert type(ours) is RuntimeError and str(ours) == str(theirs)
    assert p.grad is None


def test_sgd_and_adam_never_broadcast_a_refused_grad():
    for opt_cls in (tc.optim.SGD, tc.optim.Adam):
        p = tc.zeros(200, 300, requires_grad=True)
        opt = opt_cls([p], lr=0.1)
        with pytest.raises(RuntimeError, match="the same size"):
            p.grad = tc.ones(300)
        opt.step()  # no grad: nothing to do
        assert not to_np(p).any()


def test_assigning_a_non_tensor_grad_is_a_type_error_like_torch():
    torch = _torch()
    theirs = _error(lambda: setattr(torch.ones(3, requires_grad=True), "grad", 0.0))
    a = tc.ones(3, requires_grad=True)
    ours = _error(lambda: setattr(a, "grad", 0.0))
    assert type(ours) is TypeError and str(ours) == str(theirs)
    assert str(ours) == "assigned grad expected to be a Tensor or None but got grad of type float"
    # the refused value is not kept: the next backward accumulates into an empty .grad
    (a * 3).sum().backward()
    assert_close(a.grad, [3.0, 3.0, 3.0], atol=0, rtol=0)


def test_assigning_a_grad_of_another_dtype_raises():
    torch = _torch()
    assert "dtype" in str(_error(lambda: setattr(torch.ones(3, requires_grad=True), "grad",
                                                 torch.ones(3, dtype=torch.float64))))
    a = tc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype 'float64' to a tensor with "
                                           "dtype 'float32'"):
        a.grad = tc.ones(3, dtype=tc.float64)
    assert a.grad is None


def test_assigning_a_grad_on_another_device_raises(device, other_device):
    if other_device is None:
        pytest.skip("one device only")
    a = tc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"attempting to assign a gradient with device '{other_device}' to a "
                                           f"tensor with device '{device}'"):
        a.grad = tc.ones(3, device=other_device)
    assert a.grad is None


def test_assigning_a_tensor_as_its_own_grad_raises():
    a = tc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="can't assign a tensor as its own grad"):
        a.grad = a


def test_assigning_a_fitting_grad_is_kept_and_accumulated_into():
    a = tc.ones(3, requires_grad=True)
    g = tc.tensor([1.0, 2.0, 3.0])
    a.grad = g
    assert a.grad is g
    (a * 2).sum().backward()
    assert_close(a.grad, [3.0, 4.0, 5.0], atol=0, rtol=0)
    a.grad = None
    assert a.grad is None
    n = tc.tensor([1, 2])  # as torch: an integer tensor may hold an integer .grad
    n.grad = tc.tensor([5, 6])
    assert n.grad.tolist() == [5, 6]


# ---- Optimizer.load_state_dict: checked whole before anything changes ----------------------------
def _trained(opt_cls, value, **kw):
    p = tc.tensor(value, requires_grad=True)
    opt = opt_cls([p], lr=0.1, **kw)
    for _ in range(2):
        p.grad = tc.tensor(np.full(p.shape, 0.5, np.float32))
        opt.step()
    return p, opt


def _state_arrays(opt):
    return {k: to_np(v) if isinstance(v, tc.Tensor) else v for s in opt.state.values() for k, v in s.items()}


@pytest.mark.parametrize("opt_cls, key, kw", [(tc.optim.Adam, "exp_avg_sq", {}),
                                               (tc.optim.SGD, "momentum_buffer", {"momentum": 0.9}),
                                               (tc.optim.RMSprop, "square_avg", {}),
                                               (tc.optim.Adagrad, "sum", {})])
def test_load_state_dict_refuses_a_buffer_of_another_shape(opt_cls, key, kw):
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    _, source = _trained(opt_cls, value + 1, **kw)
    sd = source.state_dict()
    sd["state"][0][key] = tc.zeros(3)
    sd["param_groups"][0]["lr"] = 0.5
    p, opt = _trained(opt_cls, value, **kw)
    before = _state_arrays(opt)
    with pytest.raises(ValueError, match=rf"loaded state dict has a '{key}' of shape \[3\] for parameter 0 of "
                                         rf"shape \[2, 3\]"):
        opt.load_state_dict(sd)
    # nothing changed: neither the state nor the hyperparameters
    after = _state_arrays(opt)
    assert after.keys() == before.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["params"][0] is p


def test_load_state_dict_refuses_an_integer_buffer():
    _, source = _trained(tc.optim.Adam, [1.0, 2.0])
    sd = source.state_dict()
    sd["state"][0]["exp_avg"] = tc.tensor([1, 2])
    _, opt = _trained(tc.optim.Adam, [1.0, 2.0])
    with pytest.raises(ValueError, match="loaded state dict has a 'exp_avg' of dtype int64 for parameter 0 of "
                                         "dtype float32"):
        opt.load_state_dict(sd)


def test_load_state_dict_refuses_a_group_of_another_size_like_torch():
    torch = _torch()
    topt = torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1)
    tsd = topt.state_dict()
    tsd["param_groups"][0]["params"] = [0, 1]
    assert "doesn't match the size of optimizer's group" in str(_error(lambda: topt.load_state_dict(tsd)))
    _, opt = _trained(tc.optim.SGD, [1.0, 2.0], momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][0]["params"] = [0, 1]
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(sd)


def test_load_state_dict_moves_and_casts_buffers_to_the_parameter(device, other_device):
    """Buffers saved in float64 (exact copies of float32 values) or on another device load as the
    parameter's: the next step is bit for bit the step of the optimizer they came from."""
    value = np.array([[0.5, -1.0, 2.0], [3.0, -0.25, 1.5]], np.float32)
    p_ref, ref = _trained(tc.optim.Adam, value, amsgrad=True)
    sd = ref.state_dict()
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        buf = sd["state"][0][key].double()
        sd["state"][0][key] = buf.to(other_device) if other_device is not None else buf
    p = tc.tensor(to_np(p_ref), requires_grad=True)
    opt = tc.optim.Adam([p], lr=0.1, amsgrad=True)
    opt.load_state_dict(sd)
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        buf = opt.state[p][key]
        assert buf.dtype is tc.float32 and buf.device == device
        np.testing.assert_array_equal(to_np(buf), to_np(ref.state[p_ref][key]))
    for q, o in ((p_ref, ref), (p, opt)):
        q.grad = tc.tensor(np.full((2, 3), -0.75, np.float32))
        o.step()
    np.testing.assert_array_equal(to_np(p), to_np(p_ref))
    assert not np.array_equal(to_np(p), value)  # the steps did move it
