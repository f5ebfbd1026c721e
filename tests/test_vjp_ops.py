"""The two namespaces of ops/vjp_ops.py give the same gradients: each VJP written against it runs
once on the backend's arrays (a first-order backward) and once as recorded Tensor ops
(create_graph=True), and both must match torch. Sizes reach the cpp kernels on every cpp variant."""
import numpy as np
import pytest
import torch

import tinygrad_chain as tc
from tinygrad_chain.ops import vjp_ops


def _conv(lib, x, w, b):
    return lib.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2))


def _ce(lib, x):
    return lib.nn.functional.cross_entropy(x, lib.tensor([2, 0, 3, 1, 3, 0]), ignore_index=1, reduction="sum")


def _lstm(lib, x, h0, c0, w_ih, w_hh):
    if lib is torch:
        return torch._VF.lstm(x, (h0[None], c0[None]), (w_ih, w_hh), False, 1, 0.0, False, False, False)[0]
    from tinygrad_chain.ops.registry import REGISTRY, apply
    return apply(REGISTRY["lstm_layer"], x @ w_ih.mT, h0, c0, w_hh)[:-1]


def _lstm_biased(lib, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    if lib is torch:
        return torch._VF.lstm(x, (h0[None], c0[None]), (w_ih, w_hh, b_ih, b_hh), True, 1, 0.0, False, False,
                              False)[0]
    from tinygrad_chain.ops.registry import REGISTRY, apply
    return apply(REGISTRY["lstm_layer"], lib.nn.functional.linear(x, w_ih, b_ih), h0, c0, w_hh, b_hh)[:-1]


def _lstm_cell(lib, gates, c):
    if lib is torch:
        i, f, g, o = gates.chunk(4, -1)
        c2 = i.sigmoid() * g.tanh() + f.sigmoid() * c
        return torch.stack([o.sigmoid() * c2.tanh(), c2])
    from tinygrad_chain.ops.registry import REGISTRY, apply
    return apply(REGISTRY["lstm_cell"], gates, c)


CASES = {  # name -> (function of (lib, *tensors), input shapes)
    "mul": (lambda lib, x, y: x * y, [(40, 30), (40, 30)]),
    "matmul_batched": (lambda lib, x, y: x @ y, [(3, 20, 30), (30, 25)]),
    "linear": (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), [(4, 6, 30), (20, 30), (20,)]),
    "conv2d": (_conv, [(2, 3, 9, 8), (4, 3, 3, 3), (4,)]),
    "cross_entropy": (_ce, [(6, 5)]),
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (6, 5), w, b), [(4, 6, 5), (6, 5), (6, 5)]),
    "getitem": (lambda lib, x: x[1:, ::2] * x[[0, 2, 2], ::2], [(4, 6)]),
    "lstm_cell": (_lstm_cell, [(5, 24), (5, 6)]),
    "lstm_layer": (_lstm, [(4, 3, 5), (3, 6), (3, 6), (24, 5), (24, 6)]),
    "lstm_layer_b_hh": (_lstm_biased, [(4, 3, 5), (3, 6), (3, 6), (24, 5), (24, 6), (24,), (24,)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "recorded"])
def test_both_namespaces_match_torch(name, create_graph, rng):
    fn, shapes = CASES[name]
    data = [rng.standard_normal(s) for s in shapes]
    xs = [tc.tensor(a, requires_grad=True) for a in data]
    ts = [torch.tensor(a, requires_grad=True) for a in data]
    out, t_out = fn(tc, *xs), fn(torch, *ts)
    seed = rng.standard_normal(tuple(t_out.shape))
    grads = tc.autograd.grad(out, xs, tc.tensor(seed), create_graph=create_graph)
    t_grads = torch.autograd.grad(t_out, ts, torch.tensor(seed), create_graph=create_graph)
    assert any(g.requires_grad for g in grads) == create_graph  # recorded, or not, as the namespace says
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_the_namespace_follows_grad_mode():
    g = tc.ones(2)
    with tc.no_grad():
        arrays = vjp_ops.of(g)
        assert arrays is vjp_ops.of(g) and arrays.b is g._b  # one per backend, made once
        assert type(arrays.read(g)) is type(g._data)
    with tc.enable_grad():
        assert vjp_ops.of(g) is vjp_ops.RECORDED and vjp_ops.RECORDED.read(g) is g
