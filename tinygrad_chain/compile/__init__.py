"""tc.compile: a training step traced once, then replayed as a recorded list of backend calls.

    @tc.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

The first call with new input shapes runs eagerly (a warm-up), the second is traced: every
backend call the step makes (forward, backward, fused programs, in-place writes) is recorded with
its arrays mapped to slots (trace.py), and from the third call on the step replays that list as
one generated Python function (replay.py), with no dispatch, no Tensor and no tape node per op,
and the same kernels in the same order as eager, so results are equal bit for bit. Optimizer.step,
zero_grad and LRScheduler.step are replayed as calls. Guards, re-tracing and the fall-back to eager
are in function.py. What it cannot capture (a value read into Python: .item(), print, `if
tensor:`) makes it run the step eagerly, with a warning that says where.
"""
from .function import CompiledFunction, CompileWarning  # noqa: F401  (tc.compile.CompileWarning)

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = ("inductor", "cudagraphs", "eager", "aot_eager")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,  # noqa: A001
            disable=False):
    """torch.compile's signature. `mode` and `backend` accept torch's names, all meaning the one
    capture here; `fullgraph=True` raises instead of falling back to eager; `dynamic=True` is
    refused (each new shape is traced on its own, as dynamic=False); `options` must be a dict
    (its entries are not used); `disable=True` returns the function unchanged."""
    if mode not in _MODES:
        raise ValueError(f"tc.compile: unknown mode {mode!r}; expected one of {list(_MODES)}")
    if not isinstance(backend, str):
        raise NotImplementedError(f"tc.compile: a callable backend ({backend!r}) is not supported; backend is one "
                                  f"of {list(_BACKENDS)} (all mean the one capture tinygrad_chain has)")
    if backend not in _BACKENDS:
        raise ValueError(f"tc.compile: unknown backend {backend!r}; expected one of {list(_BACKENDS)}")
    if mode is not None and options is not None:
        raise RuntimeError("tc.compile: either mode or options can be specified, but both can't be specified at "
                           "the same time (as torch.compile)")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"tc.compile: options must be a dict, got {type(options).__name__}")
    if dynamic:
        raise NotImplementedError("tc.compile: dynamic=True is not supported: each new input shape is traced on "
                                  "its own (dynamic=False); pass dynamic=None or False")
    if not isinstance(fullgraph, bool):
        raise TypeError(f"tc.compile: fullgraph must be a bool, got {fullgraph!r}")

    def wrap(fn):
        if not callable(fn):
            raise TypeError(f"tc.compile: expected a function or a module, got {type(fn).__name__}")
        if disable:
            return fn
        return CompiledFunction(fn, fullgraph)
    return wrap if model is None else wrap(model)
