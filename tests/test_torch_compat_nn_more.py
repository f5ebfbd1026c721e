"""The rest of torch.nn that real scripts use, against torch: the smaller activations, distances, instance/RMS
norm, reflect/replicate/circular padding, the ranking and embedding losses (values and input gradients), their
modules with torch's weights, the warm-up/restart/composite lr schedulers, and WeightedRandomSampler."""
import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close

torch = pytest.importorskip("torch")

# name -> fn(F, lib, x, y): x (4, 6) requires grad; y (4, 6) is a constant target/partner
FUNCTIONAL = {
    "hardtanh": lambda F, lib, x, y: F.hardtanh(x * 2, -1.5, 1.0),
    "hardsigmoid_swish": lambda F, lib, x, y: F.hardsigmoid(x * 4) + F.hardswish(x * 4),
    "selu_celu": lambda F, lib, x, y: F.selu(x) + F.celu(x, alpha=0.5),
    "mish_glu": lambda F, lib, x, y: F.mish(x)[:, :3] + F.glu(x, dim=1),
    "shrinks": lambda F, lib, x, y: F.softshrink(x, 0.3) + F.hardshrink(x, 0.3) + F.tanhshrink(x) + F.softsign(x),
    "threshold": lambda F, lib, x, y: F.threshold(x, 0.1, -2.0),
    "prelu": lambda F, lib, x, y: F.prelu(x.reshape(2, 3, 4), lib.tensor([0.1, 0.2, 0.3])),
    "rrelu_eval": lambda F, lib, x, y: F.rrelu(x, training=False),
    "cosine_similarity": lambda F, lib, x, y: F.cosine_similarity(x, y, dim=1),
    "pairwise_distance": lambda F, lib, x, y: F.pairwise_distance(x, y, p=3),
    "pdist": lambda F, lib, x, y: F.pdist(x),
    "instance_norm": lambda F, lib, x, y: F.instance_norm(x.reshape(2, 2, 6), weight=lib.tensor([1.5, 0.5]),
                                                          bias=lib.tensor([0.1, -0.1])),
    "rms_norm": lambda F, lib, x, y: F.rms_norm(x, (6,), lib.arange(6.) / 3, eps=1e-6),
    "local_response_norm": lambda F, lib, x, y: F.local_response_norm(x.reshape(1, 4, 6), 3),
    "pad_reflect": lambda F, lib, x, y: F.pad(x.reshape(1, 4, 6), (2, 3), mode="reflect"),
    "pad_reflect_2d": lambda F, lib, x, y: F.pad(x.reshape(1, 1, 4, 6), (1, 2, 3, 1), mode="reflect"),
    "pad_replicate": lambda F, lib, x, y: F.pad(x.reshape(1, 1, 4, 6), (2, 1, 1, 3), mode="replicate"),
    "pad_circular": lambda F, lib, x, y: F.pad(x.reshape(1, 4, 6), (4, 2), mode="circular"),
    "kl_div": lambda F, lib, x, y: F.kl_div(F.log_softmax(x, 1), F.softmax(y, 1), reduction="batchmean"),
    "kl_div_log_target": lambda F, lib, x, y: F.kl_div(F.log_softmax(x, 1), F.log_softmax(y, 1), reduction="sum",
                                                       log_target=True),
    "margin_ranking": lambda F, lib, x, y: F.margin_ranking_loss(x[:, 0], y[:, 0], lib.tensor([1., -1, 1, -1]), 0.2),
    "hinge_embedding": lambda F, lib, x, y: F.hinge_embedding_loss(x, y.sign()),
    "soft_margin": lambda F, lib, x, y: F.soft_margin_loss(x, y.sign()),
    "cosine_embedding": lambda F, lib, x, y: F.cosine_embedding_loss(x, y, lib.tensor([1., -1, 1, -1]), 0.1),
    "triplet": lambda F, lib, x, y: F.triplet_margin_loss(x, y, y.flip(0), swap=True),
    "gaussian_nll": lambda F, lib, x, y: F.gaussian_nll_loss(x, y, y.abs() + 0.1, full=True),
    "poisson_nll": lambda F, lib, x, y: F.poisson_nll_loss(x, y.abs(), full=True),
    "multilabel_soft_margin": lambda F, lib, x, y: F.multilabel_soft_margin_loss(x, (y > 0).float()),
    "multi_margin": lambda F, lib, x, y: F.multi_margin_loss(x, lib.tensor([0, 5, 2, 2]), p=2, margin=0.5),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_as_torch(name, rng):
    fn = FUNCTIONAL[name]
    xv, yv = (rng.standard_normal((4, 6)).astype(np.float32) for _ in range(2))
    ours_x, theirs_x = tc.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    ours = fn(tc.nn.functional, tc, ours_x, tc.tensor(yv))
    theirs = fn(torch.nn.functional, torch, theirs_x, torch.tensor(yv))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert_close(ours.detach(), theirs.detach().numpy(), atol=1e-5, rtol=1e-4, msg=name)
    w = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
    (ours * tc.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    assert_close(ours_x.grad, theirs_x.grad.numpy(), atol=1e-4, rtol=1e-4, msg=name + " grad")


MODULES = {
    "PReLU": lambda nn: nn.PReLU(3, init=0.1),
    "InstanceNorm2d_affine": lambda nn: nn.InstanceNorm2d(3, affine=True),
    "InstanceNorm1d_running": lambda nn: nn.InstanceNorm1d(3, track_running_stats=True),
    "RMSNorm": lambda nn: nn.RMSNorm(5),
    "Upsample_bilinear": lambda nn: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    "UpsamplingNearest2d": lambda nn: nn.UpsamplingNearest2d(scale_factor=2),
    "ReflectionPad2d": lambda nn: nn.ReflectionPad2d(2),
    "ReplicationPad2d": lambda nn: nn.ReplicationPad2d((1, 0, 2, 1)),
    "ZeroPad2d": lambda nn: nn.ZeroPad2d((1, 1, 0, 2)),
    "ConstantPad1d": lambda nn: nn.ConstantPad1d(2, 3.5),
    "Hardswish": lambda nn: nn.Hardswish(),
    "Mish": lambda nn: nn.Mish(),
    "GLU": lambda nn: nn.GLU(dim=1),
    "SELU": lambda nn: nn.SELU(),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_as_torch(name, rng):
    v = rng.standard_normal((2, 4, 4, 5) if "1d" not in name and "ConstantPad1d" != name else (2, 3, 5))
    v = v.astype(np.float32)[:, :3] if name not in ("GLU", "RMSNorm") else v.astype(np.float32)
    ours_m, theirs_m = MODULES[name](tc.nn), MODULES[name](torch.nn)
    for (n, p), (_, q) in zip(ours_m.named_parameters(), theirs_m.named_parameters()):
        value = rng.standard_normal(tuple(q.shape)).astype(np.float32)
        with torch.no_grad():
            q.copy_(torch.tensor(value))
        with tc.no_grad():
            p.copy_(tc.tensor(value))
    ours, theirs = ours_m(tc.tensor(v)), theirs_m(torch.tensor(v))
    assert_close(ours.detach(), theirs.detach().numpy(), atol=1e-5, rtol=1e-4, msg=name)
    for (n, b), (_, c) in zip(ours_m.named_buffers(), theirs_m.named_buffers()):
        assert_close(b, c.numpy(), atol=1e-5, rtol=1e-4, msg=f"{name} {n}")


SCHEDULERS = {
    "LinearLR": lambda S, o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=4),
    "ConstantLR": lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=3),
    "MultiplicativeLR": lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9),
    "PolynomialLR": lambda S, o: S.PolynomialLR(o, total_iters=5, power=2.0),
    "CosineAnnealingWarmRestarts": lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "CyclicLR_triangular2": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=3,
                                                    mode="triangular2"),
    "CyclicLR_exp_range": lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.9),
    "SequentialLR_warmup_cosine": lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=3), S.CosineAnnealingLR(o, T_max=6, eta_min=0.001)], milestones=[3]),
    "SequentialLR_three": lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.2, total_iters=2), S.ExponentialLR(o, 0.8), S.StepLR(o, 2)], milestones=[2, 5]),
    "ChainedScheduler": lambda S, o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=3),
                                                         S.ExponentialLR(o, gamma=0.9)]),
}


def _lrs(lib, name):
    p = lib.nn.Parameter(lib.zeros(2))
    opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = SCHEDULERS[name](lib.optim.lr_scheduler, opt)
    out = []
    for _ in range(12):
        opt.step()
        sched.step()
        g = opt.param_groups[0]
        out.append((g["lr"], g["momentum"], sched.get_last_lr()[0]))
    return out


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_as_torch(name, device):
    if device != "numpy":
        pytest.skip("schedulers compute on the host: one device covers them")
    np.testing.assert_allclose(_lrs(tc, name), _lrs(torch, name), rtol=1e-9, atol=1e-12)


def test_weighted_random_sampler(device):
    from tinygrad_chain.utils.data import DataLoader, WeightedRandomSampler
    tc.manual_seed(0)
    draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    once = list(WeightedRandomSampler(tc.tensor([1.0, 0.0, 2.0, 5.0]), 3, replacement=False))
    assert sorted(once) == [0, 2, 3]
    loader = DataLoader(list(range(10)), batch_size=4, sampler=WeightedRandomSampler([1.0] * 10, 8))
    assert [len(b) for b in loader] == [4, 4]
    with pytest.raises(RuntimeError, match="nonzero entries without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


@pytest.mark.parametrize("make", [lambda nn: nn.ReLU(inplace=True), lambda nn: nn.LeakyReLU(0.2, inplace=True),
                                  lambda nn: nn.ELU(inplace=True), lambda nn: nn.SiLU(inplace=True),
                                  lambda nn: nn.ReLU6(inplace=True), lambda nn: nn.Hardtanh(-0.5, 0.5, inplace=True),
                                  lambda nn: nn.Hardswish(inplace=True), lambda nn: nn.SELU(inplace=True),
                                  lambda nn: nn.Mish(inplace=True), lambda nn: nn.Threshold(0.1, 2.0, inplace=True)])
def test_inplace_activations_write_their_input_as_torch(make, rng):
    """inplace=True changes the caller's tensor (torch's), and gradients flow through it after a conv and norm."""
    v = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    results = []
    for lib in (tc, torch):
        conv = lib.nn.Conv2d(3, 3, 1, bias=False)
        with lib.no_grad():
            conv.weight.copy_(lib.tensor(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)))
        x = lib.tensor(v, requires_grad=True)
        h = lib.nn.functional.batch_norm(conv(x), None, None, training=True)
        out = make(lib.nn)(h)
        (out * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape)))).sum().backward()
        plain = lib.tensor(v)
        make(lib.nn)(plain)
        results.append((h.detach(), out.detach(), x.grad, plain))
    for a, b in zip(*results):
        assert_close(a, b.numpy(), atol=1e-5)
