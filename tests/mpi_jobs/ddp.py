"""DistributedDataParallel on 2 ranks against one process that trains on the whole batch.

Each rank takes its share of a batch; after N steps its weights must equal those of a model
trained on the whole batch in one process (which every rank also computes, locally), within
1e-6 (float32) / 1e-12 (float64), for SGD and Adam, with buckets smaller than one parameter
and larger than all of them, on every test device. The ranks start from different weights:
DDP's broadcast from rank 0 at construction makes them equal.
"""
import numpy as np

import tinygrad_chain as tc
import tinygrad_chain.distributed as dist
from tinygrad_chain import nn
from tinygrad_chain.nn.parallel import DistributedDataParallel as DDP

from .common import check, devices, on_device, to_np

BATCH, STEPS = 12, 4
TOL = {"float32": 1e-6, "float64": 1e-12}
TINY, HUGE = 1e-6, 1000  # bucket_cap_mb: every parameter alone / all in one bucket


def model(dtype, seed):
    tc.manual_seed(seed)
    m = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    return m.to(dtype=getattr(tc, dtype))


def data(dtype):
    rng = np.random.default_rng(42)
    x = tc.tensor(rng.standard_normal((BATCH, 8)).astype(dtype))
    y = tc.tensor(rng.integers(0, 4, BATCH))
    return x, y


def optimizer(name, params):
    if name == "sgd":
        return tc.optim.SGD(params, lr=0.1, momentum=0.9)
    return tc.optim.Adam(params, lr=1e-2)


def part(rank, n, *tensors):
    lo, hi = rank * BATCH // n, (rank + 1) * BATCH // n
    return [t[lo:hi] for t in tensors]


def train(net, opt, x, y, steps=STEPS):
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()


def max_diff(a, b):
    return max(float(np.abs(to_np(p) - to_np(q)).max()) for p, q in zip(a.parameters(), b.parameters()))


def equivalence(rank, n, dtype, opt_name, cap, as_view=False):
    x, y = data(dtype)
    ref = model(dtype, 0)
    train(ref, optimizer(opt_name, ref.parameters()), x, y)
    local = model(dtype, rank)  # different on every rank until DDP broadcasts rank 0's
    ddp = DDP(local, bucket_cap_mb=cap, gradient_as_bucket_view=as_view)
    train(ddp, optimizer(opt_name, ddp.parameters()), *part(rank, n, x, y))
    err = max_diff(ref, local)
    assert err <= TOL[dtype], f"max |DDP - one process| = {err:.3g} > {TOL[dtype]}"
    assert len(ddp.reducer.buckets) == (6 if cap == TINY else 1), len(ddp.reducer.buckets)


def no_sync(rank, n):
    """Two micro-batches per rank, the first under no_sync: equals one step on the whole batch."""
    x, y = data("float64")
    ref = model("float64", 0)
    train(ref, optimizer("sgd", ref.parameters()), x, y, steps=1)
    net = DDP(model("float64", 0))
    opt = optimizer("sgd", net.parameters())
    loss_fn = nn.CrossEntropyLoss()
    (xa, xb), (ya, yb) = [t.chunk(2) for t in part(rank, n, x, y)]
    opt.zero_grad()
    with net.no_sync():
        (loss_fn(net(xa), ya) / 2).backward()
    alone = model("float64", 0)
    (loss_fn(alone(xa), ya) / 2).backward()
    assert max(float(np.abs(to_np(p.grad) - to_np(q.grad)).max())
               for p, q in zip(net.parameters(), alone.parameters())) == 0, "no_sync's backward must stay local"
    (loss_fn(net(xb), yb) / 2).backward()
    opt.step()
    assert max_diff(ref, net.module) <= 1e-12


class TwoHeads(nn.Module):
    """head_b is used on rank 0 only; head_c never."""

    def __init__(self):
        super().__init__()
        self.body, self.head_a, self.head_b, self.head_c = nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(4, 2), \
            nn.Linear(4, 2)

    def forward(self, x, use_b):
        h = self.body(x).tanh()
        return self.head_a(h) + (self.head_b(h) if use_b else 0)


def find_unused(rank, n):
    tc.manual_seed(0)
    net = DDP(TwoHeads().double(), find_unused_parameters=True)
    x = tc.tensor(np.random.default_rng(rank).standard_normal((3, 4)))
    for _ in range(2):  # a second iteration: the reducer re-arms
        net.zero_grad()
        net(x, use_b=rank == 0).sum().backward()
    m = net.module
    assert m.head_c.weight.grad is None, "unused on every rank: .grad left alone"
    # head_b's gradient is rank 0's, averaged with rank 1's zeros; every rank ends with the same
    got = to_np(m.head_b.weight.grad)
    everyone = [tc.zeros(got.shape, dtype=tc.float64) for _ in range(n)]
    dist.all_gather(everyone, tc.tensor(got))
    assert all(np.array_equal(to_np(e), got) for e in everyone)
    assert np.abs(got).max() > 0


def unused_without_flag(rank, n):
    tc.manual_seed(0)
    net = DDP(TwoHeads().double())
    x = tc.tensor(np.ones((3, 4)))
    net(x, use_b=False).sum().backward()
    try:
        net(x, use_b=False)
    except RuntimeError as e:
        assert "Expected to have finished reduction" in str(e) and "head_b.weight" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter without find_unused_parameters must raise at the next forward")


def overlap(rank, n):
    """With one parameter per bucket, the first all-reduce starts before the first layer's gradient
    exists: buckets go out during backward, and all are done when backward returns."""
    net = DDP(model("float32", 0), bucket_cap_mb=TINY)
    seen = []
    red = net.reducer
    launch = red._launch

    def spy():
        seen.append([p.grad is not None for p in net.module[0].parameters()])
        launch()
    red._launch = spy
    x, y = data("float32")
    nn.CrossEntropyLoss()(net(x), y).backward()
    assert seen[0] == [False, False], seen[0]
    assert all(b.work.is_completed() for b in red.buckets)
    assert not red.armed


def state_dict(rank, n):
    inner = model("float64", rank)
    net = DDP(inner)
    assert net.module is inner
    sd, inner_sd = net.state_dict(), inner.state_dict()
    assert list(sd) == ["module." + k for k in inner_sd], list(sd)
    assert all(np.array_equal(to_np(sd["module." + k]), to_np(v)) for k, v in inner_sd.items())
    copy = DDP(model("float64", 7))
    copy.load_state_dict(sd)
    assert max_diff(copy.module, inner) == 0


def buffers(rank, n):
    """Buffers come from rank 0: at construction, and again before each forward with grad enabled."""
    tc.manual_seed(0)
    inner = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double()
    inner[1].running_mean.fill_(float(rank))
    net = DDP(inner)
    assert to_np(inner[1].running_mean).tolist() == [0.0] * 4
    inner[1].running_mean.fill_(float(rank + 5))
    net.eval()
    net(tc.ones(2, 3, dtype=tc.float64))
    assert to_np(inner[1].running_mean).tolist() == [5.0] * 4


def different_models(rank, n):
    try:
        DDP(nn.Linear(3, 4 + rank))
    except RuntimeError as e:
        assert "rank 1 has parameter weight of shape [5, 3]" in str(e) and "[4, 3]" in str(e), str(e)
    else:
        raise AssertionError("DDP must refuse models that differ across ranks")


def outside_forward(rank, n):
    """A parameter that forward did not use, used in the loss: its gradient would arrive after its
    bucket went out with zeros (torch raises the same error)."""
    tc.manual_seed(0)
    net = DDP(TwoHeads().double(), find_unused_parameters=True)
    loss = net(tc.ones(3, 4, dtype=tc.float64), use_b=True).sum() + net.module.head_c.weight.sum()
    try:
        loss.backward()
    except RuntimeError as e:
        assert "only once" in str(e) and "head_c.weight" in str(e), str(e)
    else:
        raise AssertionError("a parameter used outside forward must raise")


def run(rank, n):
    for device in devices():
        with on_device(device):
            for dtype in TOL:
                for opt_name in ("sgd", "adam"):
                    for cap in (TINY, HUGE):
                        check(f"equivalence/{opt_name}/{dtype}/cap={cap}/{device}", equivalence, rank, n, dtype,
                              opt_name, cap)
            check(f"equivalence/bucket_view/{device}", equivalence, rank, n, "float64", "adam", TINY, True)
            check(f"no_sync/{device}", no_sync, rank, n)
    for name in ("find_unused", "unused_without_flag", "overlap", "state_dict", "buffers", "different_models",
                 "outside_forward"):
        check(name, globals()[name], rank, n)
