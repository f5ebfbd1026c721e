"""The collectives on tensors, in place, with torch's names, arguments and return values.

A C-contiguous tensor's own memory goes to the transport (numpy and cpp tensors reach MPI
through the buffer protocol: no copy, no pickle); a non-contiguous one travels through a
contiguous copy written back when the op completes. src= and dst= are global ranks, as in
torch. A process outside `group` does nothing and gets None. With async_op=True each returns
a Work; otherwise None once the tensors hold the result.
"""
from tinygrad_chain.tensor import Tensor

from . import faults
from .group import resolve
from .reduce_op import ReduceOp, finish_avg
from .reduce_op import check as check_op
from .work import Work, describe


# ---- shared steps -----------------------------------------------------------------------------------------
def _member(group):
    pg = resolve(group)
    return pg if pg.is_member else None


def _check(pg, t, who, name="tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: {name} must be a tc.Tensor, got {type(t).__name__}")
    want = pg.transport.device_type
    if t._b.device_type != want:
        hint = "numpy or cpp" if want == "cpu" else "cupy (init_process_group('nccl'))"
        raise RuntimeError(f"{who}: the {pg.backend} backend carries {hint} tensors; {name} is on {t.device}")


def _same(t, ref, who, name):
    if t.shape != ref.shape or t.dtype is not ref.dtype:
        raise ValueError(f"{who}: every tensor of {name} must match the input's shape {list(ref.shape)} and dtype "
                         f"{ref.dtype.name}; got {list(t.shape)} {t.dtype.name}")


def _debug(pg, who, t, root=None):
    if faults.detail:
        faults.check_same(pg, who, t.shape, t.dtype, root)


def _buffer(t, write):
    """(the array the transport uses, the array to copy it back into afterwards, or None)."""
    a = t._writable() if write else t._data
    if a.flags.c_contiguous:
        return a, None
    return t._b.xp.ascontiguousarray(a), (a if write else None)


def _landed(t, buf, back):
    """buf holds t's new value: copied back if it was a copy; t's version counter moves."""
    if back is not None:
        t._b.copy_into(back, buf)
    t._version[0] += 1


def _blocking(pg, async_op):
    return not async_op and pg.timeout is None  # a timeout needs a request to poll


def _start(pg, who, about, call):
    """call() starts the op on the transport; its errors name the op, the rank and the tensor."""
    try:
        return call()
    except pg.transport.errors as e:
        raise RuntimeError(f"{who}: {e} (rank {pg.rank()}, {describe(about)})") from e


def _run(pg, who, req, finish, async_op, about=None):
    if req is None and not async_op:  # a blocking call has finished: no handle needed
        if finish is not None:
            finish()
        return None
    w = Work(pg, who, [req], finish, None, about)
    if async_op:
        return w
    w.wait()
    return None


# ---- reductions ---------------------------------------------------------------------------------------------
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Every rank's tensor becomes the reduction of all of them."""
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "all_reduce")
    op = check_op(op, tensor.dtype, "all_reduce")
    _debug(pg, "all_reduce", tensor)
    buf, back = _buffer(tensor, True)
    d = tensor
    req = _start(pg, "all_reduce", d, lambda: pg.transport.allreduce(buf, op, _blocking(pg, async_op)))

    def finish():
        if op is ReduceOp.AVG:
            finish_avg(tensor._b.xp, buf, pg.size())
        _landed(tensor, buf, back)
        return [tensor]
    return _run(pg, "all_reduce", req, finish, async_op, d)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """The reduction lands in dst's tensor; the others' tensors are left as they were."""
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "reduce")
    op = check_op(op, tensor.dtype, "reduce")
    root = pg.group_rank(dst, "reduce")
    _debug(pg, "reduce", tensor, root)
    mine = pg.rank() == root
    buf, back = _buffer(tensor, mine)
    d = tensor
    req = _start(pg, "reduce", d, lambda: pg.transport.reduce(buf, op, root, _blocking(pg, async_op)))

    def finish():
        if mine:
            if op is ReduceOp.AVG:
                finish_avg(tensor._b.xp, buf, pg.size())
            _landed(tensor, buf, back)
        return [tensor]
    return _run(pg, "reduce", req, finish, async_op, d)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    """Reduce `input` (the group's size times output's elements, concatenated or stacked along
    dim 0) across ranks; rank i's output gets the i-th block."""
    pg = _member(group)
    if pg is None:
        return None
    for t, name in ((output, "output"), (input, "input")):
        _check(pg, t, "reduce_scatter_tensor", name)
    op = check_op(op, input.dtype, "reduce_scatter_tensor")
    _blocks(input, output, pg.size(), "reduce_scatter_tensor", "input")
    _debug(pg, "reduce_scatter_tensor", output)
    send, _ = _buffer(input, False)
    recv, back = _buffer(output, True)
    d = output
    req = _start(pg, "reduce_scatter_tensor", d,
                 lambda: pg.transport.reduce_scatter(send, recv, op, _blocking(pg, async_op)))

    def finish():
        if op is ReduceOp.AVG:
            finish_avg(output._b.xp, recv, pg.size())
        _landed(output, recv, back)
        return [output]
    return _run(pg, "reduce_scatter_tensor", req, finish, async_op, d)


def _blocks(whole, part, n, who, name):
    """`whole` must be n blocks of `part`: concatenated along dim 0 or stacked on a new dim 0."""
    if whole.dtype is not part.dtype:
        raise ValueError(f"{who}: input and output must have one dtype, got {whole.dtype.name} and {part.dtype.name}")
    stacked = (n,) + tuple(part.shape)
    concatenated = (n * part.shape[0],) + tuple(part.shape[1:]) if part.ndim else None
    if tuple(whole.shape) not in (stacked, concatenated):
        raise ValueError(f"{who}: {name} must hold the group's {n} blocks of shape {list(part.shape)} (shape "
                         f"{list(stacked)}" + (f" or {list(concatenated)}" if concatenated else "") +
                         f"), got {list(whole.shape)}")


# ---- copies between ranks -------------------------------------------------------------------------------------
def broadcast(tensor, src, group=None, async_op=False):
    """src's tensor is copied into every rank's tensor."""
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "broadcast")
    root = pg.group_rank(src, "broadcast")
    _debug(pg, "broadcast", tensor, root)
    receives = pg.rank() != root
    buf, back = _buffer(tensor, receives)
    d = tensor
    req = _start(pg, "broadcast", d, lambda: pg.transport.broadcast(buf, root, _blocking(pg, async_op)))

    def finish():
        if receives:
            _landed(tensor, buf, back)
        return [tensor]
    return _run(pg, "broadcast", req, finish, async_op, d)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's input, concatenated (or stacked) along dim 0 in rank order, in every output."""
    pg = _member(group)
    if pg is None:
        return None
    for t, name in ((output_tensor, "output_tensor"), (input_tensor, "input_tensor")):
        _check(pg, t, "all_gather_into_tensor", name)
    _blocks(output_tensor, input_tensor, pg.size(), "all_gather_into_tensor", "output_tensor")
    _debug(pg, "all_gather_into_tensor", input_tensor)
    send, _ = _buffer(input_tensor, False)
    recv, back = _buffer(output_tensor, True)
    d = input_tensor
    req = _start(pg, "all_gather_into_tensor", d,
                 lambda: pg.transport.allgather(send, recv, _blocking(pg, async_op)))

    def finish():
        _landed(output_tensor, recv, back)
        return [output_tensor]
    return _run(pg, "all_gather_into_tensor", req, finish, async_op, d)


def _rows(tensor, n):
    """A contiguous (n, *shape) array on tensor's device: n slots for it."""
    return tensor._b.xp.empty((n,) + tuple(tensor.shape), dtype=tensor._data.dtype)


def _fill(tensors, rows):
    for t, row in zip(tensors, rows):
        t._b.copy_into(t._writable(), row)
        t._version[0] += 1
    return list(tensors)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] becomes rank i's tensor, on every rank."""
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "all_gather")
    _listed(pg, tensor_list, tensor, "all_gather", "tensor_list")
    _debug(pg, "all_gather", tensor)
    send, _ = _buffer(tensor, False)
    recv = _rows(tensor, pg.size())
    d = tensor
    req = _start(pg, "all_gather", d, lambda: pg.transport.allgather(send, recv, _blocking(pg, async_op)))
    return _run(pg, "all_gather", req, lambda: _fill(tensor_list, recv), async_op, d)


def _listed(pg, tensors, ref, who, name):
    if tensors is None or len(tensors) != pg.size():
        raise ValueError(f"{who}: {name} must hold one tensor per rank of the group ({pg.size()}), got "
                         f"{None if tensors is None else len(tensors)}")
    for t in tensors:
        _check(pg, t, who, name)
        _same(t, ref, who, name)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """dst's gather_list[i] becomes rank i's tensor; the other ranks pass no list."""
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "gather")
    root = pg.group_rank(dst, "gather")
    mine = pg.rank() == root
    if mine:
        _listed(pg, gather_list, tensor, "gather", "gather_list")
    elif gather_list:
        raise ValueError("gather: Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    _debug(pg, "gather", tensor, root)
    send, _ = _buffer(tensor, False)
    recv = _rows(tensor, pg.size()) if mine else None
    d = tensor
    req = _start(pg, "gather", d, lambda: pg.transport.gather(send, recv, root, _blocking(pg, async_op)))
    return _run(pg, "gather", req, lambda: _fill(gather_list, recv) if mine else [], async_op, d)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank i's tensor becomes src's scatter_list[i]; the other ranks pass no list."""
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "scatter")
    root = pg.group_rank(src, "scatter")
    mine = pg.rank() == root
    send = None
    if mine:
        _listed(pg, scatter_list, tensor, "scatter", "scatter_list")
        send = _rows(tensor, pg.size())
        for i, t in enumerate(scatter_list):
            send[i, ...] = t._data  # [i, ...]: a view even when the rows are 0-d
    elif scatter_list:
        raise ValueError("scatter: Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _debug(pg, "scatter", tensor, root)
    recv, back = _buffer(tensor, True)
    d = tensor
    req = _start(pg, "scatter", d, lambda: pg.transport.scatter(send, recv, root, _blocking(pg, async_op)))

    def finish():
        _landed(tensor, recv, back)
        return [tensor]
    return _run(pg, "scatter", req, finish, async_op, d)


def barrier(group=None, async_op=False, device_ids=None):
    """Return once every rank of the group has reached it."""
    pg = _member(group)
    if pg is None:
        return None
    req = _start(pg, "barrier", None, lambda: pg.transport.barrier(_blocking(pg, async_op)))
    return _run(pg, "barrier", req, None, async_op)


# ---- point to point ----------------------------------------------------------------------------------------
def _peer(pg, rank, who):
    if rank is None:
        return None
    peer = pg.group_rank(rank, who)
    if peer == pg.rank():
        raise ValueError(f"{who}: Invalid {'destination' if who.endswith('send') else 'source'} rank: should not "
                         f"be the same as the rank of the current process.")
    return peer


def isend(tensor, dst, group=None, tag=0):
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "isend")
    buf, _ = _buffer(tensor, False)
    peer = _peer(pg, dst, "isend")
    d = tensor
    req = _start(pg, "isend", d, lambda: pg.transport.send(buf, peer, tag, False))
    return Work(pg, "isend", [req], None, None, d)


def send(tensor, dst, group=None, tag=0):
    pg = _member(group)
    if pg is None:
        return None
    _check(pg, tensor, "send")
    buf, _ = _buffer(tensor, False)
    peer = _peer(pg, dst, "send")
    d = tensor
    req = _start(pg, "send", d, lambda: pg.transport.send(buf, peer, tag, _blocking(pg, False)))
    _run(pg, "send", req, None, False, d)


def _receive(pg, tensor, src, tag, async_op, who):
    _check(pg, tensor, who)
    peer = _peer(pg, src, who)
    buf, back = _buffer(tensor, True)
    status = pg.transport.status()
    d = tensor
    req = _start(pg, who, d, lambda: pg.transport.recv(buf, peer, tag, _blocking(pg, async_op), status))

    def finish():
        sender = peer if status is None else status.Get_source()
        if status is not None and status.Get_count(pg.transport.MPI.BYTE) != buf.nbytes:
            got = status.Get_count(pg.transport.MPI.BYTE)
            raise RuntimeError(f"{who}: the message from rank {pg.ranks[sender]} has {got} bytes, "
                               f"but the {describe(d)} takes {buf.nbytes}: the ranks' tensors differ in shape or dtype")
        _landed(tensor, buf, back)
        return pg.ranks[sender]
    return Work(pg, who, [req], finish, status, d)


def irecv(tensor, src=None, group=None, tag=0):
    pg = _member(group)
    return None if pg is None else _receive(pg, tensor, src, tag, True, "irecv")


def recv(tensor, src=None, group=None, tag=0):
    """Fill tensor with a message from src (any rank when None); returns the sender's rank."""
    pg = _member(group)
    if pg is None:
        return -1
    w = _receive(pg, tensor, src, tag, False, "recv")
    w.wait()
    return w._result


# ---- Python objects (pickled: for small metadata, never tensor data) -------------------------------------------
def all_gather_object(object_list, obj, group=None):
    pg = _member(group)
    if pg is not None:
        object_list[:] = pg.comm.allgather(obj)


def broadcast_object_list(object_list, src=0, group=None, device=None):
    pg = _member(group)
    if pg is not None:
        root = pg.group_rank(src, "broadcast_object_list")
        object_list[:] = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root=root)
