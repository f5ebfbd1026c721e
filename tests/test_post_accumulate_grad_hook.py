"""Tensor.register_post_accumulate_grad_hook: called during backward, as soon as a leaf's .grad holds
this backward's gradient (DistributedDataParallel's buckets start there), as torch's."""
import gc

import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc
from tinygrad_chain.autograd import engine


def mlp():
    tc.manual_seed(0)
    return tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.Tanh(), tc.nn.Linear(4, 2))


def test_called_once_per_leaf_after_grad_is_written_last_layer_first():
    net = mlp()
    first, last = net[0].weight, net[2].weight
    seen = []
    for name, p in net.named_parameters():
        p.register_post_accumulate_grad_hook(
            lambda t, name=name: seen.append((name, to_np(t.grad).copy(), first.grad is None)))
    x = tc.randn(5, 3)
    net(x).square().sum().backward()
    assert sorted(n for n, _, _ in seen) == sorted(n for n, _ in net.named_parameters())
    for name, grad, _ in seen:
        np.testing.assert_array_equal(grad, to_np(net.get_parameter(name).grad))
    order = {n: (i, before_first) for i, (n, _, before_first) in enumerate(seen)}
    assert order["2.weight"][0] < order["0.weight"][0]
    assert order["2.weight"][1], "the last layer's hook runs before the first layer's gradient exists"
    assert last.grad is not None


def test_a_leaf_used_twice_gets_one_call_with_the_whole_gradient():
    w = tc.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(to_np(t.grad).copy()))
    ((w * 3).sum() + (w * w).sum()).backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [5.0, 7.0])


def test_sees_the_accumulated_grad_and_can_be_removed():
    w = tc.tensor([1.0], requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.item()))
    (w * 2).sum().backward()
    (w * 2).sum().backward()
    assert calls == [2.0, 4.0]
    handle.remove()
    (w * 2).sum().backward()
    assert calls == [2.0, 4.0] and w.grad.item() == 6.0


def test_runs_after_the_tensor_hooks_and_not_for_autograd_grad():
    w = tc.tensor([1.0, -1.0], requires_grad=True)
    w.register_hook(lambda g: g * 10)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(to_np(t.grad).tolist()))
    (w * 1.5).sum().backward()
    assert calls == [[15.0, 15.0]]
    tc.autograd.grad((w * 2).sum(), w)
    assert len(calls) == 1, "autograd.grad writes no .grad, so no post-accumulate hook (as torch)"


def test_a_leaf_that_is_the_root_and_an_unreached_leaf():
    w = tc.tensor([1.0, 2.0], requires_grad=True)
    other = tc.tensor([1.0], requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append("w"))
    other.register_post_accumulate_grad_hook(lambda t: calls.append("other"))
    w.backward(tc.ones(2))
    assert calls == ["w"]


def test_refused_on_non_leaves_and_tensors_without_grad():
    w = tc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tc.ones(2).register_post_accumulate_grad_hook(lambda t: None)


def test_the_registry_forgets_dead_tensors():
    before = len(engine.post_accumulate_hooks)
    w = tc.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: None)
    assert len(engine.post_accumulate_hooks) == before + 1
    del w
    gc.collect()
    assert len(engine.post_accumulate_hooks) == before
