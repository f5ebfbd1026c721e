"""The foreach optimizer steps (one backend call per parameter group, as torch's foreach=True):
the kernels' bits equal the single steps', every array is checked before any is written, a group
the kernels cannot take as it is runs its single steps, and a group spread over devices steps each."""
import numpy as np
import pytest

import tinygrad_chain as tc

_C = pytest.importorskip("tinygrad_chain._C")

from cpp_fixtures import device, rand  # noqa: E402,F401  (fixtures)
from tinygrad_chain.backends import formulas  # noqa: E402

SHAPES = [(70, 300), (300,), (5, 7), (1,), (33, 65)]


def _arrays(dtype, seed):
    return [rand(s, dtype, seed + i) for i, s in enumerate(SHAPES)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", [False, True])
def test_sgd_steps_equal_single_steps(dtype, momentum):
    params, grads = _arrays(dtype, 0), _arrays(dtype, 10)
    bufs = _arrays(dtype, 20) if momentum else [None] * len(SHAPES)
    alone = [p.copy() for p in params], [None if b is None else b.copy() for b in bufs]
    scalars = (formulas.sgd_momentum_scalars(0.1, 0.01, 0.9, 0.2, False, False) if momentum
               else formulas.sgd_scalars(0.1, 0.01))
    assert _C.sgd_steps(params, grads, bufs, scalars) is True
    for p, g, b in zip(*alone[:1], grads, alone[1]):
        _C.sgd_step(p, g, b, scalars)
    for got, want in zip(params + [b for b in bufs if b is not None], alone[0] + [b for b in alone[1] if b is not None]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_steps_equal_single_steps(amsgrad):
    arrays = [_arrays(np.float32, seed) for seed in (0, 10, 20, 30, 40)]
    arrays[2] = [np.abs(v) for v in arrays[2]]  # exp_avg_sq, max_exp_avg_sq: non-negative
    arrays[4] = [np.abs(v) for v in arrays[4]]
    if not amsgrad:
        arrays[4] = [None] * len(SHAPES)
    alone = [[None if a is None else a.copy() for a in column] for column in arrays]
    scalars = [formulas.adam_scalars(step, 0.01, 0.9, 0.999, 1e-8, 0.1, amsgrad, True, False)
               for step in (1, 2, 2, 5, 1)]  # each parameter its own step count
    p, g, m, v, vmax = arrays
    assert _C.adam_steps(p, g, m, v, vmax, scalars) is True
    for i in range(len(SHAPES)):
        _C.adam_step(alone[0][i], g[i], alone[2][i], alone[3][i], alone[4][i], scalars[i])
    for column, want in zip([p, m, v, vmax], [alone[0], alone[2], alone[3], alone[4]]):
        for a, b in zip(column, want):
            if a is not None:
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("odd", ["float16 param", "read-only param", "non-contiguous grad", "grad of another shape",
                                 "missing buffer"])
def test_a_group_the_kernels_cannot_take_writes_nothing(odd):
    params, grads, bufs = _arrays(np.float32, 0), _arrays(np.float32, 10), _arrays(np.float32, 20)
    if odd == "float16 param":
        params[-1] = params[-1].astype(np.float16)
    elif odd == "read-only param":
        params[-1].flags.writeable = False
    elif odd == "non-contiguous grad":
        grads[-1] = np.asfortranarray(grads[-1])
    elif odd == "grad of another shape":
        grads[-1] = grads[-1].reshape(-1)
    else:
        bufs[-1] = None
    before = [a.copy() for a in params + bufs if a is not None]
    assert _C.sgd_steps(params, grads, bufs, formulas.sgd_momentum_scalars(0.1, 0, 0.9, 0, False, False)) is False
    for a, b in zip([a for a in params + bufs if a is not None], before):
        np.testing.assert_array_equal(a, b)


def test_aliasing_is_an_error_before_anything_is_written():
    params, grads = _arrays(np.float32, 0), _arrays(np.float32, 10)
    grads[-1] = params[-1]  # the last parameter's gradient is the parameter itself
    before = [p.copy() for p in params]
    with pytest.raises(ValueError, match="must not share memory"):
        _C.sgd_steps(params, grads, [None] * len(SHAPES), formulas.sgd_scalars(0.1, 0))
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p, b)
    with pytest.raises(ValueError, match="different lengths"):
        _C.sgd_steps(params, grads[:-1], [None] * len(SHAPES), formulas.sgd_scalars(0.1, 0))


def _group(devices, seed):
    rng = np.random.default_rng(seed)
    params = [tc.tensor(rng.standard_normal(s).astype(np.float32), device=d, requires_grad=True)
              for s, d in zip(SHAPES, devices)]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    return params, grads


@pytest.mark.parametrize("name,config", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                         ("SGD", dict(lr=0.1, maximize=True, weight_decay=0.1)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01))])
def test_a_group_over_two_devices_steps_each_as_its_own_group(name, config):
    mixed = ["cpp", "numpy", "cpp", "numpy", "cpp"]
    together, grads = _group(mixed, 0)
    apart, _ = _group(mixed, 0)
    opt_together = getattr(tc.optim, name)(together, **config)
    groups = [{"params": [p for p in apart if p._b.name == d]} for d in ("cpp", "numpy")]
    assert [len(g["params"]) for g in groups] == [3, 2]
    opt_apart = getattr(tc.optim, name)(groups, **config)
    for step in range(3):
        for ps in (together, apart):
            for p, g in zip(ps, grads):
                p.grad = tc.tensor(g * (step + 1), device=p.device)
        opt_together.step()
        opt_apart.step()
    for a, b in zip(together, apart):
        assert a._b is b._b
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_momentum_buffers_are_made_once_and_updated_in_place():
    params, grads = _group(["cpp"] * len(SHAPES), 1)
    opt = tc.optim.SGD(params, lr=0.1, momentum=0.9)
    for p, g in zip(params, grads):
        p.grad = tc.tensor(g, device="cpp")
    opt.step()
    bufs = [opt.state[p]["momentum_buffer"] for p in params]
    for p, b, g in zip(params, bufs, grads):  # the first step's buffer is the gradient itself
        np.testing.assert_array_equal(b.numpy(), g)
    opt.step()
    assert all(opt.state[p]["momentum_buffer"] is b for p, b in zip(params, bufs))
    for b, g in zip(bufs, grads):
        np.testing.assert_allclose(b.numpy(), 1.9 * g, rtol=1e-6)


def test_pending_readers_of_a_parameter_see_it_before_the_step():
    """A fused expression that reads a parameter lazily is computed before the foreach step writes it,
    and a pending gradient is computed before the step reads it."""
    n = 1 << 17
    rng = np.random.default_rng(2)
    w = tc.tensor(rng.standard_normal(n).astype(np.float32), device="cpp", requires_grad=True)
    before = w.detach().numpy().copy()
    g = rng.standard_normal(n).astype(np.float32)
    w.grad = tc.tensor(g, device="cpp") * 2.0  # pending: a fused product
    seen = tc.sigmoid(w.detach())  # pending: it reads w's memory
    tc.optim.SGD([w], lr=0.5).step()
    np.testing.assert_allclose(seen.numpy(), 1 / (1 + np.exp(-before.astype(np.float64))), rtol=1e-6)
    np.testing.assert_allclose(w.detach().numpy(), before - 0.5 * (2.0 * g), rtol=1e-6, atol=1e-6)
