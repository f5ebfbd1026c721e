"""PyTorch as a second oracle: the same code, run with `lib = torch` and with
`lib = tinygrad_chain`, gives the same values, gradients and second derivatives."""
import numpy as np
import pytest
from helpers import assert_close

torch = pytest.importorskip("torch")
import tinygrad_chain as tc  # noqa: E402

torch.set_num_threads(1)


def _leaf(lib, a, device, requires_grad=True):
    if lib is torch:
        t = torch.tensor(a)
        return t.requires_grad_(requires_grad) if a.dtype.kind == "f" else t
    t = tc.tensor(a, device=device)
    return t.requires_grad_(requires_grad) if a.dtype.kind == "f" else t


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach())


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [o for x in out for o in _flat(x)]
    return [out]


def run_both(fn, arrays, device, seed=0, atol=1e-5, rtol=1e-4):
    """Run fn(lib, *leaves) on both libraries; compare outputs and input gradients."""
    results = {}
    for lib in (torch, tc):
        leaves = [_leaf(lib, a, device) for a in arrays]
        outs = [o for o in _flat(fn(lib, *leaves))]
        rng = np.random.default_rng(seed)
        loss = 0
        for o in outs:
            if o.dtype in (torch.float32, torch.float64, tc.float32, tc.float64) and o.requires_grad:
                cot = rng.standard_normal(tuple(o.shape)).astype(_np(o).dtype)
                loss = loss + (o * (torch.tensor(cot) if lib is torch else tc.tensor(cot, device=device))).sum()
        if not isinstance(loss, int):
            loss.backward()
        grads = [None if not getattr(t, "requires_grad", False) or t.grad is None else _np(t.grad) for t in leaves]
        results[lib] = ([_np(o) for o in outs], grads, [o.dtype for o in outs])
    (t_outs, t_grads, t_dt), (c_outs, c_grads, c_dt) = results[torch], results[tc]
    assert len(t_outs) == len(c_outs)
    for k, (a, b) in enumerate(zip(c_outs, t_outs)):
        assert a.shape == b.shape, f"output {k}: shape {a.shape} vs torch {b.shape}"
        assert str(c_dt[k]).split(".")[-1] == str(t_dt[k]).split(".")[-1], f"output {k} dtype {c_dt[k]} vs {t_dt[k]}"
        assert_close(a, b, atol=atol, rtol=rtol, msg=f"output {k}")
    for k, (a, b) in enumerate(zip(c_grads, t_grads)):
        if b is None:
            assert a is None or not np.any(a), f"input {k}: gradient where torch has none"
            continue
        assert a is not None, f"input {k}: no gradient, torch has one"
        assert_close(a, b, atol=atol, rtol=rtol, msg=f"gradient of input {k}")


def F(lib):
    return lib.nn.functional


R = np.random.default_rng(7)


def r(*shape, dtype=np.float32):
    return R.standard_normal(shape).astype(dtype)


CASES = {
    "mlp": (lambda lib, x, w1, b1, w2, b2: ((x @ w1 + b1).relu() @ w2 + b2).tanh().sum(),
            [r(4, 3), r(3, 5), r(5), r(5, 2), r(2)]),
    "mlp_sigmoid_gelu_silu": (lambda lib, x, w: (F(lib).gelu(x @ w) + F(lib).silu(x @ w) + (x @ w).sigmoid()).mean(),
                              [r(4, 3), r(3, 2)]),
    "softmax_family": (lambda lib, x: (x.softmax(-1) * 3, x.log_softmax(0), x.logsumexp(1), x.logsumexp((0, 1))),
                       [r(3, 4)]),
    "cross_entropy_like": (lambda lib, x, t: -x.log_softmax(1).gather(1, t.unsqueeze(1)).mean(),
                           [r(5, 4), np.array([0, 3, 3, 1, 2])]),
    "cross_entropy_by_mask": (lambda lib, x, m: -(x.log_softmax(1) * m).sum(1).mean(),
                              [r(3, 4), np.eye(4, dtype=np.float32)[[1, 0, 3]]]),
    "index_repeated_accumulates": (lambda lib, x, i: (x[i] * 2, x[:, i]), [r(4, 4), np.array([0, 2, 2, 2, 3])]),
    "index_2d_arrays": (lambda lib, x, i, j: x[i, j], [r(3, 4), np.array([[0, 0], [2, 1]]),
                                                        np.array([[3, 3], [3, 0]])]),
    "bool_mask": (lambda lib, x: (x[x > 0] ** 2).sum() + x.masked_fill(x < -0.5, 0.0).sum(), [r(3, 4)]),
    "where_mask": (lambda lib, x, y: lib.where(x > y, x * y, y - x), [r(3, 4), r(4)]),
    "matmul_1d_1d": (lambda lib, a, b: a @ b, [r(3), r(3)]),
    "matmul_1d_2d": (lambda lib, a, b: a @ b, [r(3), r(3, 2)]),
    "matmul_2d_1d": (lambda lib, a, b: a @ b, [r(2, 3), r(3)]),
    "matmul_batched_broadcast": (lambda lib, a, b: a @ b, [r(2, 1, 2, 3), r(4, 3, 2)]),
    "matmul_1d_batched": (lambda lib, a, b: (a @ b, b.mT @ a), [r(3), r(2, 3, 4)]),
    "einsum": (lambda lib, a, b, c: (lib.einsum("ij,jk->ik", a, b), lib.einsum("ij,jk,k->i", a, b, c),
                                     lib.einsum("ii->i", a @ a.T), lib.einsum("ij->", a),
                                     lib.einsum("bi,bi->b", a, a)), [r(2, 3), r(3, 4), r(4)]),
    "var_std": (lambda lib, x: (x.var(), x.var(1), x.var(0, correction=0), x.std(1, keepdim=True),
                                x.std(unbiased=False), x.var((0, 1), correction=2)), [r(4, 5)]),
    "max_min_dim": (lambda lib, x: (x.max(1).values, x.max(1).indices, x.min(0, keepdim=True)[0],
                                    x.min(0, keepdim=True)[1], x.argmax(), x.argmin(1)), [r(3, 4)]),
    "max_min_full": (lambda lib, x: (x.max(), x.min(), x.amax(0), x.amin((0, 1))), [r(3, 4)]),
    "max_ties": (lambda lib, x: (x.amax(1), x.max(), x.max(1).values, lib.maximum(x, x.flip(1))),
                 [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=np.float32)]),
    "cumsum_prod": (lambda lib, x: (x.cumsum(0), x.cumsum(-1), x.prod(1), x.prod()), [r(3, 4)]),
    "norm": (lambda lib, x: (x.norm(), x.norm(dim=1), x.norm(p=1, dim=0), x.norm(p=float("inf"), dim=1),
                             x.norm(p=3)), [r(3, 4)]),
    "shape_ops": (lambda lib, x: (x.flip(0), x.flip((0, 1)), x.repeat(2, 1, 3), x.T, x.permute(1, 0).reshape(-1),
                                  x.unsqueeze(1).expand(3, 2, 4), x.flatten(), x.transpose(0, 1)), [r(3, 4)]),
    "pad": (lambda lib, x: (F(lib).pad(x, (1, 2)), F(lib).pad(x, (0, 1, 2, 0), value=1.5),
                            F(lib).pad(x, (-1, 1))), [r(3, 4)]),
    "cat_stack_split_chunk": (lambda lib, a, b: (lib.cat([a, b], 0), lib.cat([a, b], -1), lib.stack([a, b], 1),
                                                 lib.split(a, 2, 1), a.split([1, 2], 0), b.chunk(2, 1),
                                                 lib.chunk(b, 3, 0)), [r(3, 4), r(3, 4)]),
    "basic_indexing": (lambda lib, x: (x[1], x[:, 1:3], x[..., None, -1], x[::2, ::-1] if lib is tc else
                                       x[::2].flip(1)), [r(3, 4)]),
    "elementwise_zoo": (lambda lib, x, y: (x.abs() + y.exp() - (y * y + 1).log() + (x * x + 1).rsqrt()
                                           + x.sin() * y.cos() + (x / 3).tan() + lib.clamp(x, -0.5, 0.5)
                                           + x.clamp(min=0.1) + (y * y + 0.1) ** x + x ** 3 + 2 ** y
                                           + (y * y).log1p() + x.expm1() + x.sign() + F(lib).leaky_relu(x, 0.1)
                                           + F(lib).elu(y) + F(lib).softplus(x * 3) + lib.maximum(x, y)
                                           - lib.minimum(x, y) + x % 1.5 + x.erf()),
                        [r(3, 4), r(3, 4)]),
    "broadcast_binary": (lambda lib, a, b, c: (a + b, a * b - c, a / (b * b + 1), (a - c) ** 2), [r(3, 1), r(1, 4),
                                                                                                  r(4)]),
    "reductions_keepdim": (lambda lib, x: (x.sum(), x.sum((0, 2), keepdim=True), x.mean(-1), x.mean((0, 1)),
                                           x.sum(-2, keepdim=True)), [r(2, 3, 4)]),
    "float64": (lambda lib, x, w: ((x @ w).softmax(1) * x.sum()).sum(), [r(3, 3, dtype=np.float64),
                                                                         r(3, 2, dtype=np.float64)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_vs_torch(name, device):
    fn, arrays = CASES[name]
    run_both(fn, arrays, device)


def test_setitem_vs_torch(device):
    def fn(lib, x, v):
        y = x * 1.0
        y[0] = v
        y[:, 1] = 2.0
        y[y > 1.5] = 0.0
        return y * x
    run_both(fn, [r(3, 4), r(4)], device)


def test_inplace_chain_vs_torch(device):
    def fn(lib, x):
        y = x * 2
        y += 1
        y.mul_(x)
        y -= x.exp()
        return y.sum()
    run_both(fn, [r(3, 4)], device)


def _second_order(lib, device, fn, arrays, v_arrays):
    leaves = [_leaf(lib, a, device) for a in arrays]
    vs = [torch.tensor(v) if lib is torch else tc.tensor(v, device=device) for v in v_arrays]
    out = fn(lib, *leaves)
    grads = lib.autograd.grad(out, leaves, create_graph=True)
    gv = sum((g * v).sum() for g, v in zip(grads, vs))
    hv = lib.autograd.grad(gv, leaves)
    return [_np(g) for g in grads] + [_np(h) for h in hv]


SECOND_ORDER = {
    "mlp": (lambda lib, x, w: ((x @ w).tanh() ** 2).sum() + (x @ w).sigmoid().sum(), [(3, 4), (4, 2)]),
    "softmax_ce": (lambda lib, x: -(x.log_softmax(1)[:, 0]).sum() + (x.softmax(0) ** 2).sum()
                   + x.logsumexp(1).sum(), [(3, 4)]),
    "activations": (lambda lib, x: (F(lib).gelu(x) * F(lib).silu(x) + F(lib).softplus(x, beta=2.0)
                                    + F(lib).elu(x) ** 2 + F(lib).gelu(x, approximate="tanh") ** 2).sum(), [(3, 4)]),
    "reductions": (lambda lib, x: x.var(1).sum() + x.std() + x.norm() ** 3 + x.prod(1).sum()
                   + x.amax(1).sum() * x.mean(), [(3, 4)]),
    "elementwise": (lambda lib, x, y: ((x * y).sin() + (x * x + 1).log() + (y * y + 1).sqrt() / (x * x + 2)
                                       + (x * x + 0.5) ** y).sum(), [(3,), (3,)]),
    "indexing_matmul": (lambda lib, x, w: ((x[[0, 2, 2]] @ w) ** 2).sum() + (x @ w).cumsum(0).exp().sum(),
                        [(3, 4), (4, 2)]),
    "einsum_pad_cat": (lambda lib, a, b: (lib.einsum("ij,jk->ik", a, b) ** 2).sum()
                       + (F(lib).pad(a, (1, 1)) ** 3).sum() + (lib.cat([a, b.T], 0) ** 2).prod(0).sum(),
                       [(2, 3), (3, 2)]),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_hessian_vector_products_vs_torch(name, device):
    fn, shapes = SECOND_ORDER[name]
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) * 0.8 for s in shapes]
    vs = [rng.standard_normal(s) for s in shapes]
    got = _second_order(tc, device, fn, arrays, vs)
    want = _second_order(torch, device, fn, arrays, vs)
    for k, (a, b) in enumerate(zip(got, want)):
        assert_close(a, b, atol=1e-9, rtol=1e-7, msg=f"{name}: {'first' if k < len(shapes) else 'second'} order")


def test_gradient_penalty_vs_torch(device):
    # WGAN-GP style: penalty on the norm of d critic / d input, differentiated w.r.t. the weights
    rng = np.random.default_rng(5)
    x_np, w1_np, w2_np = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 1))
    res = {}
    for lib in (torch, tc):
        x = _leaf(lib, x_np, device)
        w1, w2 = _leaf(lib, w1_np, device), _leaf(lib, w2_np, device)
        critic = ((x @ w1).tanh() @ w2).sum()
        (gx,) = lib.autograd.grad(critic, x, create_graph=True)
        penalty = ((gx.norm(dim=1) - 1) ** 2).mean()
        penalty.backward()
        res[lib] = (_np(penalty), _np(w1.grad), _np(w2.grad))
    for a, b in zip(res[tc], res[torch]):
        assert_close(a, b, atol=1e-10, rtol=1e-8)
