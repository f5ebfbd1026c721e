"""Optimizer steps and initialisers are in-place ops (ops/inplace.py): a mismatched tensor is refused
with an error naming the op, shapes, dtypes and devices before anything is written, and every
write moves the version counter, so a graph that saved the tensor refuses to backward."""
import numpy as np
import pytest

import tinygrad_chain as tc
from tinygrad_chain import nn
from tinygrad_chain.ops.inplace import update_, write_

OPTIMIZERS = {
    "SGD": lambda ps: tc.optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam": lambda ps: tc.optim.Adam(ps, lr=0.1, amsgrad=True),
    "RMSprop": lambda ps: tc.optim.RMSprop(ps, lr=0.1, centered=True),  # through Optimizer._step
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_grad_of_another_dtype_is_refused_before_any_write(name, rng):
    p = tc.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    opt = OPTIMIZERS[name]([p])
    p.grad = tc.ones(3, 4)
    opt.step()  # the state exists now
    before = p.detach().numpy().copy(), p._version[0], {k: (v.numpy().copy() if isinstance(v, tc.Tensor) else v)
                                                        for k, v in opt.state[p].items()}
    p._grad = tc.ones(3, 4, dtype=tc.float64)  # past the .grad setter's own check
    with pytest.raises(RuntimeError, match=rf"{name}\.step: parameter 0 is \[3, 4\] float32 on \w+, but its gradient "
                                           r"is \[3, 4\] float64 on \w+"):
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), before[0])
    assert p._version[0] == before[1]
    for k, v in opt.state[p].items():
        np.testing.assert_array_equal(v.numpy() if isinstance(v, tc.Tensor) else v, before[2][k])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_step_moves_the_version_so_a_saved_parameter_is_caught(name, rng):
    p = tc.tensor(rng.standard_normal(5), requires_grad=True)
    opt = OPTIMIZERS[name]([p])
    p.grad = tc.ones(5, dtype=p.dtype)
    y = (p * p).sum()  # saves p
    version = p._version[0]
    opt.step()
    assert p._version[0] > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("init", [lambda t: nn.init.constant_(t, 0.5), nn.init.eye_, nn.init.orthogonal_,
                                  lambda t: nn.init.trunc_normal_(t, std=0.1)],
                         ids=["constant_", "eye_", "orthogonal_", "trunc_normal_"])
def test_initialisers_move_the_version(init):
    w = tc.zeros(4, 3, requires_grad=True)
    y = (w * w).sum()
    with tc.no_grad():
        assert init(w) is w
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_write_refuses_a_source_of_another_shape_or_dtype_and_writes_nothing():
    dst = tc.zeros(2, 3)
    for src in (tc.ones(3, 2), tc.ones(2, 3, dtype=tc.float64)):
        with pytest.raises(RuntimeError, match=r"orthogonal_: expected tensors on one device with one dtype and shape"):
            write_("orthogonal_", dst, src)
    assert dst._version[0] == 0 and not dst.numpy().any()
    write_("constant_", dst, 2.0)
    assert dst._version[0] == 1 and (dst.numpy() == 2).all()


def test_tensors_on_two_devices_are_refused(other_device):
    if other_device is None:
        pytest.skip("one device only here")
    a, g = tc.zeros(3), tc.ones(3, device=other_device)
    with pytest.raises(RuntimeError, match=f"on {a._b.name}, .* on {g._b.name}"):
        update_("sgd_step", "sgd_step", (a, g, None), (0, 2), 0.1, 0, 0, False, 0)
    assert not a.numpy().any() and a._version[0] == 0


def test_batch_norm_counts_batches_as_an_in_place_op():
    bn = nn.BatchNorm1d(3)
    nbt = bn.num_batches_tracked
    v0 = nbt._version[0]
    bn(tc.ones(4, 3))
    bn(tc.ones(4, 3))
    assert int(nbt.item()) == 2 and nbt.dtype is tc.int64 and nbt._version[0] == v0 + 2
    bn.reset_running_stats()
    assert int(nbt.item()) == 0 and nbt._version[0] == v0 + 3
