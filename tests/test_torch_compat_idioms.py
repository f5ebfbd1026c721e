"""Idioms of real scripts, against torch: Conv padding_mode, F.unfold/fold and max_unpool2d (values and grads),
module full backward hooks (grad-CAM style), Function ctx.mark_non_differentiable and once_differentiable,
torch.where(cond), memory_format arguments."""
import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close

torch = pytest.importorskip("torch")


def _same_params(ours, theirs, rng):
    for p, q in zip(ours.parameters(), theirs.parameters()):
        v = (rng.standard_normal(tuple(q.shape)) * 0.3).astype(np.float32)
        with torch.no_grad():
            q.copy_(torch.tensor(v))
        with tc.no_grad():
            p.copy_(tc.tensor(v))


def _check(make, shape, rng, msg):
    v = rng.standard_normal(shape).astype(np.float32)
    outs = []
    for lib in (tc, torch):
        x = lib.tensor(v, requires_grad=True)
        out = make(lib, x)
        w = lib.tensor(np.linspace(-1, 1, int(np.prod(tuple(out.shape)))).reshape(tuple(out.shape)).astype(np.float32))
        (out * w).sum().backward()
        outs.append((out.detach(), x.grad))
    (o1, g1), (o2, g2) = outs
    assert_close(o1, o2.numpy(), atol=1e-5, msg=msg)
    assert_close(g1, g2.numpy(), atol=1e-4, msg=msg + " grad")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv2d_padding_mode_as_torch(mode, padding, rng):
    convs = [lib.nn.Conv2d(2, 3, (3, 4), padding=padding, padding_mode=mode, dilation=(1, 2) if padding == "same"
                           else 1) for lib in (tc, torch)]
    _same_params(*convs, rng)
    _check(lambda lib, x: convs[lib is torch](x), (2, 2, 6, 7), rng, f"{mode} {padding}")


def test_conv1d_circular_and_transposed_refusal(rng):
    convs = [lib.nn.Conv1d(1, 2, 3, padding=2, padding_mode="circular") for lib in (tc, torch)]
    _same_params(*convs, rng)
    _check(lambda lib, x: convs[lib is torch](x), (2, 1, 5), rng, "conv1d circular")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        tc.nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")


@pytest.mark.parametrize("args", [dict(kernel_size=2, stride=2), dict(kernel_size=(2, 3), padding=1, dilation=(1, 2)),
                                  dict(kernel_size=3, stride=(1, 2), padding=(0, 1))])
def test_unfold_fold_as_torch(args, rng):
    _check(lambda lib, x: lib.nn.functional.unfold(x, **args), (2, 3, 5, 6), rng, f"unfold {args}")
    cols = tc.nn.functional.unfold(tc.zeros(2, 3, 5, 6), **args).shape
    _check(lambda lib, x: lib.nn.Fold((5, 6), **args)(x), tuple(cols), rng, f"fold {args}")


def test_max_unpool2d_as_torch(rng):
    def unpool(lib, x):
        pooled, idx = lib.nn.functional.max_pool2d(x, 2, return_indices=True)
        return lib.nn.MaxUnpool2d(2)(pooled, idx, output_size=x.shape)
    _check(unpool, (2, 2, 5, 4), rng, "max_unpool2d")


def test_full_backward_hooks_as_torch(rng):
    results = []
    for lib in (tc, torch):
        m = lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.ReLU(), lib.nn.Flatten(), lib.nn.Linear(8, 3))
        results.append(m)
    _same_params(*results, rng)
    v = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
    seen = []
    for lib, m in zip((tc, torch), results):
        record = {}
        m[0].register_full_backward_hook(lambda mod, gi, go: record.update(gi=gi[0], go=go[0]))
        m[3].register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
        handle = m[3].register_full_backward_hook(lambda mod, gi, go: record.update(last=go[0]))
        x = lib.tensor(v, requires_grad=True)
        m(x).square().sum().backward()
        handle.remove()
        m(x).sum().backward()  # the removed hook sees nothing more
        seen.append((record["gi"], record["go"], record["last"], x.grad))
    for a, b in zip(*seen):
        assert_close(a.detach(), b.detach().numpy(), atol=1e-4)


def test_function_ctx_as_torch():
    results = []
    for lib in (tc, torch):
        from_function = __import__(lib.__name__ + ".autograd.function", fromlist=["once_differentiable"])

        class ScaleArgmax(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                idx = x.argmax()
                scaled = x * k
                ctx.mark_non_differentiable(idx)
                ctx.save_for_backward(x)
                ctx.k = k
                return scaled, idx

            @staticmethod
            @from_function.once_differentiable
            def backward(ctx, g, g_idx):
                (x,) = ctx.saved_tensors
                return g * ctx.k + x * 0, None

        x = lib.tensor([1.0, 3.0, 2.0], requires_grad=True)
        y, i = ScaleArgmax.apply(x, 2.0)
        y.sum().backward()
        results.append((x.grad.tolist(), i.item(), i.requires_grad, y.requires_grad))
    assert results[0] == results[1]


def test_where_condition_alone_and_memory_formats():
    cond = [[0, 1], [1, 1]]
    ours = [t.tolist() for t in tc.where(tc.tensor(cond) > 0)]
    assert ours == [t.tolist() for t in torch.where(torch.tensor(cond) > 0)]
    x = tc.ones(1, 2, 3, 3)
    assert tc.zeros_like(x, memory_format=tc.preserve_format).shape == x.shape
    assert x.to(memory_format=tc.channels_last).contiguous(memory_format=tc.contiguous_format).shape == x.shape
    assert x.clone(memory_format=tc.channels_last).shape == x.shape and repr(tc.channels_last) == "torch.channels_last"


def test_small_layers_as_torch(rng):
    v = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    for make in (lambda nn: nn.Softmax2d(), lambda nn: nn.ChannelShuffle(2), lambda nn: nn.AlphaDropout(0.3).eval()):
        assert_close(make(tc.nn)(tc.tensor(v)), make(torch.nn)(torch.tensor(v)).numpy(), msg=str(make(tc.nn)))


def test_alpha_dropout_keeps_mean_and_variance():
    tc.manual_seed(0)
    y = tc.nn.AlphaDropout(0.2)(tc.randn(200000))
    assert abs(y.mean().item()) < 0.02 and abs(y.std().item() - 1) < 0.02


def test_lazy_linear_keeps_its_parameters_for_an_earlier_optimizer():
    m = tc.nn.LazyLinear(3)
    params = list(m.parameters())
    opt = tc.optim.SGD(m.parameters(), lr=0.5)
    y = m(tc.ones(2, 5))
    assert y.shape == (2, 3) and m.weight.shape == (3, 5) and m.in_features == 5
    before = m.weight.detach().clone()
    y.sum().backward()
    opt.step()
    assert params[0] is m.weight and not tc.equal(before, m.weight.detach())


def test_rng_state_round_trip_and_seeds():
    tc.manual_seed(7)
    assert tc.initial_seed() == 7
    state = tc.get_rng_state()
    a = tc.rand(4)
    tc.set_rng_state(state)
    assert tc.equal(a, tc.rand(4))
    s = tc.seed()
    assert tc.initial_seed() == s
    with pytest.raises(RuntimeError, match="expected a state from tc.get_rng_state"):
        tc.set_rng_state(tc.tensor([1, 2]))


def test_apply_data_ptr_and_writes_into_expanded_views():
    x = tc.tensor([1.0, 2.0])
    assert x.apply_(lambda v: v * 3).tolist() == [3.0, 6.0]
    assert x.data_ptr() == x.view(-1).data_ptr() and x.data_ptr() != x[1:].data_ptr()
    e = tc.ones(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="add_: unsupported operation"):
        e.add_(1)
    assert e.tolist() == [[1.0] * 3] * 2


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_as_torch(mode, rng):
    w = rng.standard_normal((10, 3)).astype(np.float32)
    results = []
    for lib in (tc, torch):
        bag = lib.nn.EmbeddingBag.from_pretrained(lib.tensor(w), freeze=False, mode=mode, padding_idx=4)
        flat = bag(lib.tensor([1, 2, 4, 5, 4, 3, 7]), lib.tensor([0, 2, 2, 5]))  # an empty bag, padding skipped
        rows = bag(lib.tensor([[1, 2], [4, 4]]))
        (flat.sum() + flat.square().sum() + rows.sum()).backward()
        results.append((flat.detach(), rows.detach(), bag.weight.grad))
    for a, b in zip(*results):
        assert_close(a, b.numpy(), atol=1e-5)
    weighted = [lib.nn.EmbeddingBag.from_pretrained(lib.tensor(w), mode="sum")(
        lib.tensor([1, 2, 3]), lib.tensor([0, 1]), per_sample_weights=lib.tensor([0.5, 2.0, 1.0])) for lib in (tc, torch)]
    assert_close(weighted[0], weighted[1].numpy(), atol=1e-6)


def test_multihead_attention_with_kdim_vdim_as_torch(rng):
    mods = [lib.nn.MultiheadAttention(6, 2, kdim=4, vdim=5, batch_first=True) for lib in (tc, torch)]
    assert list(mods[0].state_dict()) == list(mods[1].state_dict())
    _same_params(*mods, rng)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in [(2, 3, 6), (2, 4, 4), (2, 4, 5)])
    results = []
    for lib, m in zip((tc, torch), mods):
        x = lib.tensor(q, requires_grad=True)
        out, w = m(x, lib.tensor(k), lib.tensor(v), key_padding_mask=lib.tensor([[False, False, True, False]] * 2))
        (out.square().sum() + w.sum()).backward()
        results.append((out.detach(), w.detach(), x.grad, m.k_proj_weight.grad))
    for a, b in zip(*results):
        assert_close(a, b.numpy(), atol=1e-5)
