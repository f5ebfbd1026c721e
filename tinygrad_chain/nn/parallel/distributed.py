"""DistributedDataParallel: one model replica per rank, gradients averaged during backward.

torch's class and arguments. Construction checks that every rank has the same parameters
and copies rank 0's parameters and buffers to all; each forward (with grad enabled) first
copies rank 0's buffers (broadcast_buffers); backward averages the gradients in buckets
(reducer.py) and returns when every .grad holds the average. state_dict() is the wrapped
module's under the prefix "module." (as in torch); save `ddp.module.state_dict()` for a
checkpoint that loads into the bare model.
"""
import contextlib

from tinygrad_chain import distributed as dist
from tinygrad_chain.autograd.grad_mode import is_grad_enabled, no_grad

from ..module import Module
from .reducer import Reducer

DEFAULT_BUCKET_CAP_MB = 25  # torch's default


class DistributedDataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: call dist.init_process_group() first")
        self.module = module
        self.process_group = process_group
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        cap = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if cap <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.bucket_bytes_cap = int(cap * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._check_same_model(named)
        self._src = dist.get_global_rank(process_group, 0) if process_group is not None else 0
        with no_grad():
            for t in [p for _, p in named] + list(module.buffers()):
                dist.broadcast(t, self._src, group=process_group)
        self.reducer = Reducer([p for _, p in named], [n for n, _ in named], process_group, self.bucket_bytes_cap,
                               find_unused_parameters, gradient_as_bucket_view)

    def _check_same_model(self, named):
        """Every rank must hold the same parameters (names, shapes, dtypes) as the group's rank 0."""
        mine = [(n, tuple(p.shape), p.dtype.name) for n, p in named]
        everyone = []
        dist.all_gather_object(everyone, mine, group=self.process_group)
        first = everyone[0]
        for r, theirs in enumerate(everyone[1:], 1):
            if theirs == first:
                continue
            if len(theirs) != len(first):
                detail = f"{len(theirs)} parameters, while rank 0 has {len(first)}"
            else:
                a, b = next((a, b) for a, b in zip(first, theirs) if a != b)
                detail = f"parameter {b[0]} of shape {list(b[1])} {b[2]}, while rank 0 has {a[0]} of shape " \
                         f"{list(a[1])} {a[2]}"
            raise RuntimeError(f"DistributedDataParallel expects the same model on every rank, but rank {r} has "
                               f"{detail}")

    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self.reducer.ensure_finished()
        if is_grad_enabled() and self.broadcast_buffers:
            with no_grad():
                for b in self.module.buffers():
                    dist.broadcast(b, self._src, group=self.process_group)
        out = self.module(*inputs, **kwargs)
        if sync:
            self.reducer.prepare(out if self.find_unused_parameters else None)
        else:
            self.reducer.disarm()
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally; the first backward after it averages
        the accumulated sum (gradient accumulation over several micro-batches)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
