"""The gradient reducer of DistributedDataParallel: parameters packed into buckets, each
bucket all-reduced (non-blocking) as soon as all its gradients are ready during backward.

Each parameter has a post-accumulate-grad hook (called by the engine as soon as the
parameter's .grad holds this backward's gradient). The hook copies the gradient into its
slot of a flat bucket; a full bucket is launched with all_reduce(async_op=True), strictly in
bucket order so that every rank issues the same collectives in the same order. When the last
bucket is launched the reducer waits for all of them and writes the averages back into the
.grad tensors, all before backward() returns.
"""
import tinygrad_chain as tc
from tinygrad_chain import distributed as dist
from tinygrad_chain.autograd.node import Node
from tinygrad_chain.tensor import Tensor


class _Bucket:
    __slots__ = ("params", "slots", "flat", "pending", "work")

    def __init__(self, params):
        self.params = params
        self.slots = []
        total = 0
        for p in params:
            self.slots.append((total, p.numel()))
            total += p.numel()
        p = params[0]
        self.flat = tc.zeros(total, dtype=p.dtype, device=p.device)  # the all-reduce buffer
        self.pending = 0
        self.work = None

    def view(self, i):
        """Parameter i's slot in the flat buffer, shaped as the parameter."""
        off, n = self.slots[i]
        return self.flat._data[off:off + n].reshape(self.params[i].shape)


def assign_buckets(params, cap_bytes):
    """Buckets of parameters of one dtype and device, filled in reverse order (gradients of the
    last layers are ready first) until a bucket reaches cap_bytes (torch's rule)."""
    closed, open_ = [], {}
    for p in reversed(params):
        key = (p.dtype, p._b)
        members = open_.setdefault(key, [])
        members.append(p)
        if sum(q.numel() * q.dtype.itemsize for q in members) >= cap_bytes:
            closed.append(_Bucket(open_.pop(key)))
    closed.extend(_Bucket(members) for members in open_.values())
    return closed


class Reducer:
    def __init__(self, params, names, group, cap_bytes, find_unused, gradient_as_bucket_view):
        self.params, self.names, self.group = params, names, group
        self.find_unused, self.as_view = find_unused, gradient_as_bucket_view
        self.size = dist.get_world_size(group)
        self.buckets = assign_buckets(params, cap_bytes)
        self.where = {}  # id(param) -> (bucket, index in bucket, index in params)
        index = {id(p): k for k, p in enumerate(params)}
        for b in self.buckets:
            for i, p in enumerate(b.params):
                self.where[id(p)] = (b, i, index[id(p)])
        self.handles = [p.register_post_accumulate_grad_hook(self._hook) for p in params]
        self.armed = False
        self.marked = set()
        self.used = None

    # ---- per iteration ------------------------------------------------------------------------------------
    def prepare(self, outputs):
        """Called at forward when this backward must sync: arm the hooks for one reduction."""
        self.ensure_finished()
        self.armed, self.marked, self.next = True, set(), 0
        for b in self.buckets:
            b.pending, b.work = len(b.params), None
        if self.find_unused:
            # on the parameters' device: the one the transport carries (cuda for nccl)
            self.used = tc.zeros(len(self.params), dtype=tc.int32, device=self.params[0].device)
            reached = _leaves(outputs)
            for p in self.params:
                if id(p) not in reached:
                    self._mark(p, used=False)

    def disarm(self):
        """This forward's backward accumulates locally (no_sync, or no grad)."""
        self.ensure_finished()
        self.armed = False

    def ensure_finished(self):
        if self.armed and self.marked:
            missing = [self.names[k] for k, p in enumerate(self.params) if id(p) not in self.marked]
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "DistributedDataParallel, and by making sure all `forward` function outputs participate in "
                f"calculating loss. Parameters which did not receive grad for rank {dist.get_rank()}: "
                f"{', '.join(missing)}")
        self.armed = False

    # ---- during backward --------------------------------------------------------------------------------------
    def _hook(self, p):
        if self.armed:
            self._mark(p, used=True)

    def _mark(self, p, used):
        if id(p) in self.marked:
            raise RuntimeError(f"Expected to mark a variable ready only once: parameter "
                               f"{self.names[self.where[id(p)][2]]} got its gradient after it was marked ready (with "
                               f"find_unused_parameters=True: a parameter that forward did not use, used outside "
                               f"forward)")
        self.marked.add(id(p))
        b, i, k = self.where[id(p)]
        slot = b.view(i)
        g = p.grad
        if g is None:
            slot[...] = 0
        elif not _same_memory(g._data, slot):
            g._b.copy_into(slot, g._data)
        if used and self.used is not None:
            self.used._data[k] = 1
        b.pending -= 1
        if b.pending == 0:
            self._launch()
        else:
            self._progress()

    def _launch(self):
        """Start every full bucket whose predecessors have started: the same order on every rank."""
        while self.next < len(self.buckets) and self.buckets[self.next].pending == 0:
            b = self.buckets[self.next]
            b.work = dist.all_reduce(b.flat, group=self.group, async_op=True)
            self.next += 1
        if self.next == len(self.buckets):
            self._finish()

    def _progress(self):
        # MPI moves non-blocking collectives forward only inside MPI calls: poke the started ones
        for b in self.buckets[:self.next]:
            b.work.is_completed()

    def _finish(self):
        used = None
        if self.used is not None:
            dist.all_reduce(self.used, op=dist.ReduceOp.MAX, group=self.group)
            used = self.used._data
        for b in self.buckets:
            b.work.wait()
            for i, p in enumerate(b.params):
                k = self.where[id(p)][2]
                if used is not None and not used[k]:
                    continue  # unused on every rank: its .grad is left as it was, as torch does
                self._write(p, b, i)
        self.armed = False
        self.marked = set()

    def _write(self, p, b, i):
        """p.grad = the bucket's sum / world size (in place, or as a view of the bucket)."""
        slot = b.view(i)
        xp = p._b.xp
        if self.as_view:
            xp.divide(slot, self.size, out=slot)
            if p.grad is None or not _same_memory(p.grad._data, slot):
                p.grad = Tensor._make(slot, p._b, False, None, [0])
            return
        if p.grad is None:
            p.grad = Tensor._make(slot / self.size, p._b, False, None, [0])
            return
        out = p.grad._writable()
        xp.divide(slot, self.size, out=out)
        p.grad._version[0] += 1

    def remove(self):
        for h in self.handles:
            h.remove()


def _same_memory(a, b):
    return a.shape == b.shape and _pointer(a) == _pointer(b)


def _pointer(a):
    face = getattr(a, "__array_interface__", None) or a.__cuda_array_interface__
    return face["data"][0]


def _leaves(outputs):
    """ids of the leaf tensors the outputs' graph reaches (find_unused_parameters)."""
    stack, seen, leaves = [], set(), set()
    todo = [outputs]
    while todo:
        o = todo.pop()
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                stack.append(o.grad_fn)
            elif o.requires_grad:
                leaves.add(id(o))
        elif isinstance(o, dict):
            todo.extend(o.values())
        elif isinstance(o, (list, tuple)):
            todo.extend(o)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for parent in node.parents:
            if type(parent) is Node:
                stack.append(parent)
            elif parent is not None:
                leaves.add(id(parent))
    return leaves
