"""Every collective against NumPy arithmetic on the ranks' data: every ReduceOp, float32, float64
and int64, a 0-d tensor, a C-contiguous one, a non-contiguous view and a pending fused result,
blocking and async_op, on every test device. Check names start with the collective's name."""
import numpy as np

import tinygrad_chain as tc
import tinygrad_chain.distributed as dist
from tinygrad_chain.distributed import ReduceOp

from .common import check, devices, on_device, to_np, values

DTYPES = ("float32", "float64", "int64")
LAYOUTS = ("0d", "contiguous", "noncontiguous", "pending")
FLOAT_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX)
INT_OPS = FLOAT_OPS + (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
GROUPS = ("all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor",
          "gather", "scatter", "send_recv", "barrier", "new_group", "objects", "zero_copy", "errors")


def shape_of(layout):
    return () if layout == "0d" else (3, 4)


def make(a, layout):
    """(tensor holding a, the tensor whose memory it is): a (3, 4) non-contiguous view is the
    transpose of a (4, 3) tensor; a pending one is a fused expression not computed yet."""
    if layout == "noncontiguous":
        base = tc.tensor(np.ascontiguousarray(a.T))
        view = base.t()
        assert not view._data.flags.c_contiguous
        return view, base
    t = tc.tensor(a)
    if layout == "pending":
        t = t * 1
    return t, t


def expected(stack, op):
    n = stack.shape[0]
    if op is ReduceOp.AVG:
        s = stack.sum(0)
        return s / n if stack.dtype.kind == "f" else (np.sign(s) * (np.abs(s) // n)).astype(stack.dtype)
    fn = {ReduceOp.SUM: np.sum, ReduceOp.PRODUCT: np.prod, ReduceOp.MIN: np.min, ReduceOp.MAX: np.max,
          ReduceOp.BAND: np.bitwise_and.reduce, ReduceOp.BOR: np.bitwise_or.reduce,
          ReduceOp.BXOR: np.bitwise_xor.reduce}[op]
    return fn(stack, axis=0).astype(stack.dtype)


def same(t, want, base=None):
    """t holds want (same dtype and shape), and so does the memory it views."""
    got = to_np(t)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    if base is not None and base is not t:
        np.testing.assert_allclose(to_np(base), want.T, rtol=1e-6, atol=0)


def finish(work, async_op, t):
    if async_op:
        assert work is not None and work.wait() and work.is_completed()
        assert work.result()[0] is t
    else:
        assert work is None


def ops_for(dtype):
    return INT_OPS if dtype == "int64" else FLOAT_OPS


# ---- the checks -------------------------------------------------------------------------------------------------
def all_reduce(rank, n, dtype, layout, op, async_op):
    a = values(rank, shape_of(layout), dtype, salt=1)
    t, base = make(a, layout)
    version = base._version[0]
    w = dist.all_reduce(t, op=op, async_op=async_op)
    finish(w, async_op, t)
    same(t, expected(np.stack([values(r, a.shape, dtype, 1) for r in range(n)]), op), base)
    assert base._version[0] > version, "the version counter must move"


def reduce(rank, n, dtype, layout, op, async_op):
    a = values(rank, shape_of(layout), dtype, salt=2)
    t, base = make(a, layout)
    w = dist.reduce(t, dst=n - 1, op=op, async_op=async_op)
    finish(w, async_op, t)
    want = expected(np.stack([values(r, a.shape, dtype, 2) for r in range(n)]), op) if rank == n - 1 else a
    same(t, want, base)


def broadcast(rank, n, dtype, layout, async_op):
    src = 1 % n
    t, base = make(values(rank, shape_of(layout), dtype, salt=3), layout)
    finish(dist.broadcast(t, src=src, async_op=async_op), async_op, t)
    same(t, values(src, shape_of(layout), dtype, 3), base)


def all_gather(rank, n, dtype, layout, async_op):
    shape = shape_of(layout)
    t, _ = make(values(rank, shape, dtype, salt=4), layout)
    outs = [tc.zeros(shape, dtype=dtype) for _ in range(n)]
    if shape:  # one output slot that is a non-contiguous view
        holder = tc.zeros(tuple(reversed(shape)), dtype=dtype)
        outs[-1] = holder.t()
    w = dist.all_gather(outs, t, async_op=async_op)
    if async_op:
        w.wait()
    for r, o in enumerate(outs):
        same(o, values(r, shape, dtype, 4))
    if shape:
        same(holder, values(n - 1, shape, dtype, 4).T)


def all_gather_into_tensor(rank, n, dtype, layout, stacked, async_op):
    shape = shape_of(layout)
    t, _ = make(values(rank, shape, dtype, salt=5), layout)
    whole = np.stack([values(r, shape, dtype, 5) for r in range(n)])
    if not stacked:
        whole = whole.reshape((n * shape[0],) + shape[1:])
    out = tc.zeros(whole.shape, dtype=dtype)
    finish(dist.all_gather_into_tensor(out, t, async_op=async_op), async_op, out)
    same(out, whole)


def reduce_scatter_tensor(rank, n, dtype, layout, op, stacked, async_op):
    shape = shape_of(layout)
    blocks = values(rank, (n,) + shape, dtype, salt=6)
    whole = blocks if stacked else blocks.reshape((n * shape[0],) + shape[1:])
    out, base = make(np.zeros(shape, dtype), layout)
    w = dist.reduce_scatter_tensor(out, tc.tensor(whole), op=op, async_op=async_op)
    finish(w, async_op, out)
    stack = np.stack([values(r, (n,) + shape, dtype, 6)[rank] for r in range(n)])
    same(out, expected(stack, op), base)


def gather(rank, n, dtype, layout, dst, async_op):
    shape = shape_of(layout)
    t, _ = make(values(rank, shape, dtype, salt=7), layout)
    outs = [tc.zeros(shape, dtype=dtype) for _ in range(n)] if rank == dst else None
    w = dist.gather(t, outs, dst=dst, async_op=async_op)
    if async_op:
        w.wait()
    if rank == dst:
        for r, o in enumerate(outs):
            same(o, values(r, shape, dtype, 7))


def scatter(rank, n, dtype, layout, async_op):
    src, shape = n - 1, shape_of(layout)
    t, base = make(np.zeros(shape, dtype), layout)
    parts = [tc.tensor(values(r, shape, dtype, 8)) for r in range(n)] if rank == src else None
    finish(dist.scatter(t, parts, src=src, async_op=async_op), async_op, t)
    same(t, values(rank, shape, dtype, 8), base)


def send_recv(rank, n, dtype, layout):
    """A ring with isend/irecv, then blocking send / recv(src=None) between ranks 0 and 1."""
    shape = shape_of(layout)
    t, _ = make(values(rank, shape, dtype, salt=9), layout)
    got, base = make(np.zeros(shape, dtype), layout)
    works = [dist.isend(t, dst=(rank + 1) % n, tag=5), dist.irecv(got, src=(rank - 1) % n, tag=5)]
    for w in works:
        w.wait()
    same(got, values((rank - 1) % n, shape, dtype, 9), base)
    if rank == 0:
        dist.send(t, dst=1, tag=7)
    elif rank == 1:
        into = tc.zeros(shape, dtype=dtype)
        assert dist.recv(into, src=None, tag=7) == 0
        same(into, values(0, shape, dtype, 9))


def barrier(rank, n):
    dist.barrier()
    assert dist.barrier(async_op=True).wait()


def new_group(rank, n):
    members = [n - 1, 0]  # group rank 0 is global rank n-1
    g = dist.new_group(members)
    t = tc.tensor(float(rank + 1))
    w = dist.all_reduce(t, group=g)
    if rank in members:
        assert dist.get_rank(g) == members.index(rank) and dist.get_world_size(g) == 2
        assert t.item() == 1.0 + n, t.item()
        b = tc.tensor([float(rank)] * 3)
        dist.broadcast(b, src=n - 1, group=g)  # src is a global rank
        same(b, np.full(3, float(n - 1), np.float32))
        assert dist.get_process_group_ranks(g) == members and dist.get_global_rank(g, 0) == n - 1
    else:
        assert w is None and t.item() == rank + 1 and dist.get_rank(g) == -1 and dist.get_world_size(g) == -1
    dist.destroy_process_group(g)


def objects(rank, n):
    got = []
    dist.all_gather_object(got, {"rank": rank})
    assert got == [{"rank": r} for r in range(n)], got
    box = [f"from {rank}", rank] if rank == n - 1 else [None, None]
    dist.broadcast_object_list(box, src=n - 1)
    assert box == [f"from {n - 1}", n - 1], box


def zero_copy(rank, n):
    """Contiguous tensors reach MPI as their own memory, through the buffer methods only (mpi4py's
    upper-case ones; the lower-case ones pickle)."""
    pg = dist.group.WORLD
    real = pg.transport.comm
    called, buffers = [], []

    class Spy:
        def __getattr__(self, name):
            called.append(name)
            fn = getattr(real, name)
            return lambda *args: (buffers.extend(a for a in args if isinstance(a, np.ndarray)), fn(*args))[1]

    pg.transport.comm = Spy()
    try:
        t = tc.tensor(values(rank, (256,), "float32", 10))
        out = tc.zeros(n * 256)
        dist.all_reduce(t)
        dist.all_reduce(t, async_op=True).wait()
        dist.broadcast(t, src=0)
        dist.all_gather_into_tensor(out, t)
    finally:
        pg.transport.comm = real
    assert called and all(c[0].isupper() for c in called), called
    assert all(np.shares_memory(b, t._data) or np.shares_memory(b, out._data) for b in buffers)


def errors(rank, n):
    def raises(kind, words, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except kind as e:
            assert all(w in str(e) for w in words), str(e)
            return
        raise AssertionError(f"{fn.__name__} did not raise {kind.__name__}")

    raises(RuntimeError, ["BAND", "float32"], dist.all_reduce, tc.ones(2), op=ReduceOp.BAND)
    raises(TypeError, ["ReduceOp"], dist.all_reduce, tc.ones(2), op="sum")
    raises(ValueError, ["one tensor per rank"], dist.all_gather, [tc.zeros(2)] * (n + 1), tc.ones(2))
    raises(ValueError, ["blocks"], dist.all_gather_into_tensor, tc.zeros(n * 2 + 1), tc.ones(2))
    raises(ValueError, ["not in the group"], dist.broadcast, tc.ones(2), src=n)
    raises(ValueError, ["same as the rank"], dist.send, tc.ones(2), dst=rank)
    # shapes that differ across ranks: caught by the debug mode's check, every rank raising
    dist.set_debug_level("DETAIL")  # as TINYGRAD_CHAIN_DISTRIBUTED_DEBUG=DETAIL at init_process_group
    try:
        raises(RuntimeError, ["disagree", "[3]", "[4]"], dist.all_reduce, tc.ones(3 if rank == 0 else 4))
    finally:
        dist.set_debug_level("OFF")
    # and by the transport where it can tell: a message longer, or shorter, than the receiving tensor
    if rank == 0:
        dist.send(tc.ones(4), dst=1, tag=11)
        dist.send(tc.ones(2), dst=1, tag=12)
    elif rank == 1:
        raises(RuntimeError, ["recv", "[3] float32"], dist.recv, tc.zeros(3), src=0, tag=11)
        raises(RuntimeError, ["8 bytes", "takes 12"], dist.recv, tc.zeros(3), src=0, tag=12)
    dist.barrier()


def run(rank, n):
    for device in devices():
        with on_device(device):
            for dtype in DTYPES:
                for layout in LAYOUTS:
                    key = f"{dtype}/{layout}/{device}"
                    for op in ops_for(dtype):
                        for async_op in (False, True):
                            mode = "async" if async_op else "sync"
                            check(f"all_reduce/{op.name}/{key}/{mode}", all_reduce, rank, n, dtype, layout, op,
                                  async_op)
                        check(f"reduce/{op.name}/{key}", reduce, rank, n, dtype, layout, op, layout == "pending")
                        if layout != "0d":
                            for stacked in (True, False):
                                check(f"reduce_scatter_tensor/{op.name}/{key}/stacked={stacked}",
                                      reduce_scatter_tensor, rank, n, dtype, layout, op, stacked, op is ReduceOp.SUM)
                    for async_op in (False, True):
                        mode = "async" if async_op else "sync"
                        check(f"broadcast/{key}/{mode}", broadcast, rank, n, dtype, layout, async_op)
                        check(f"all_gather/{key}/{mode}", all_gather, rank, n, dtype, layout, async_op)
                        check(f"scatter/{key}/{mode}", scatter, rank, n, dtype, layout, async_op)
                        for dst in (0, n - 1):
                            check(f"gather/{key}/dst={dst}/{mode}", gather, rank, n, dtype, layout, dst, async_op)
                    for stacked in ((True,) if layout == "0d" else (True, False)):
                        check(f"all_gather_into_tensor/{key}/stacked={stacked}", all_gather_into_tensor, rank, n,
                              dtype, layout, stacked, layout == "pending")
                    check(f"send_recv/{key}", send_recv, rank, n, dtype, layout)
    for name in ("barrier", "new_group", "objects", "zero_copy", "errors"):
        check(name, globals()[name], rank, n)
