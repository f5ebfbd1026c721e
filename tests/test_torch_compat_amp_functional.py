"""torch.amp / torch.cuda.amp / torch.autocast as training loops use them (GradScaler's scaling, skipping and
scale updates as torch's; autocast casts nothing), and torch.autograd.functional against torch."""
import warnings

import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close

torch = pytest.importorskip("torch")


def _train(lib, scaler_args, poison_step=None):
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    opt = lib.optim.SGD([p], lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **scaler_args)
    seen = []
    for step in range(6):
        opt.zero_grad()
        with lib.autocast(device_type="cpu", enabled=False):
            loss = (p * p).sum() * (float("inf") if step == poison_step else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        seen.append((scaler.get_scale(), *p.detach().tolist()))
    return seen


@pytest.mark.parametrize("poison_step", [None, 2])
def test_grad_scaler_as_torch(poison_step, device):
    if device != "numpy":
        pytest.skip("host-side bookkeeping: one device covers it")
    args = dict(init_scale=256.0, growth_interval=2)
    np.testing.assert_allclose(_train(tc, args, poison_step), _train(torch, args, poison_step), rtol=1e-6)


def test_cuda_amp_without_a_gpu_disables_itself_as_torch():
    if tc.cuda.is_available():
        pytest.skip("a GPU is here")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaler = tc.cuda.amp.GradScaler()
        with tc.autocast("cuda", dtype=tc.float16):
            pass
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0
    assert any("CUDA is not available. Disabling" in str(w.message) for w in caught)
    assert scaler.scale(tc.ones(1)).item() == 1.0 and not tc.is_autocast_enabled()


def test_autocast_enabled_casts_nothing_and_says_so(device):
    x = tc.ones(2, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @tc.autocast(device_type="cpu", dtype=tc.bfloat16)
        def f(a):
            return a @ a
        y = f(x)
    assert y.dtype is tc.float32
    assert all("no mixed precision" in str(w.message) for w in caught)


FUNCTIONAL = {
    "jacobian": lambda lib, x, y: lib.autograd.functional.jacobian(lambda a: (a ** 2).sum() * a.sin(), x),
    "jacobian_tuple": lambda lib, x, y: lib.autograd.functional.jacobian(lambda a, b: (a * b, a.exp()), (x, y)),
    "hessian": lambda lib, x, y: lib.autograd.functional.hessian(lambda a: (a ** 3).sum() + (a[0] * a[1]), x),
    "vjp": lambda lib, x, y: lib.autograd.functional.vjp(lambda a: a.tanh() * 2, x, y),
    "jvp": lambda lib, x, y: lib.autograd.functional.jvp(lambda a: a.exp() * a[0], x, y),
    "hvp": lambda lib, x, y: lib.autograd.functional.hvp(lambda a: (a.sin() * a).sum(), x, y),
    "vhp": lambda lib, x, y: lib.autograd.functional.vhp(lambda a: (a ** 4).sum(), x, y),
}


def _flat(r):
    if isinstance(r, (tuple, list)):
        return [v for item in r for v in _flat(item)]
    return [r]


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_autograd_functional_as_torch(name, rng):
    xv, yv = (rng.standard_normal(3) for _ in range(2))
    ours = _flat(FUNCTIONAL[name](tc, tc.tensor(xv), tc.tensor(yv)))
    theirs = _flat(FUNCTIONAL[name](torch, torch.tensor(xv), torch.tensor(yv)))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert_close(a, b.numpy(), atol=1e-10, rtol=1e-10, msg=name)
