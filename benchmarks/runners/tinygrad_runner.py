"""tinygrad (tinygrad/tinygrad): lazy tensors compiled to kernels; steps run under TinyJit.

TinyJit captures the kernels of a step on its second call and replays them
afterwards, which is how tinygrad is meant to be used for training; those steps
get at least three untimed warm-up calls (`min_warmup`). The autograd-overhead
workload runs without the JIT, since building the graph is what it measures.
CPU kernels need a C compiler: the system's clang, or else `zig cc` from the ziglang wheel (zig_cc.py).
"""
import os

from benchmarks.runners import manual, zig_cc
from benchmarks.workloads import LR, transposed

_CC, _CC_HOW = zig_cc.compiler()
if _CC:  # before tinygrad reads it
    os.environ["CC"] = _CC

import numpy as np  # noqa: E402
from tinygrad import Device, Tensor, TinyJit, nn  # noqa: E402
from tinygrad.helpers import Context  # noqa: E402

NAME = "tinygrad"
_DEV = {"cpu": "CPU", "cuda": "CUDA"}


def probe():
    from importlib.metadata import version
    devices, skipped = [], []
    for name, dev in _DEV.items():
        if dev == "CPU" and _CC is None:
            skipped.append((name, f"tinygrad device CPU: {_CC_HOW}"))
            continue
        try:
            Device[dev]
            (Tensor([1.0], device=dev) + 1).realize()
            devices.append((name, name))
        except Exception as e:
            skipped.append((name, f"tinygrad device {dev}: {type(e).__name__}: {e}"[:300]))
    compiled_by = f" (CPU kernels compiled by {_CC_HOW})" if _CC else ""
    return {"version": version("tinygrad") + compiled_by, "devices": devices, "skipped": skipped}


def configure(threads):
    pass


def sync(device):
    Device[_DEV[device]].synchronize()


def scalar(v):
    return float(np.sum(v.numpy()))


def _jitted(step):
    """Mark a TinyJit step: call 1 runs, call 2 captures, later calls replay; time only replays."""
    def call():
        return step()
    call.min_warmup = 3
    return call


class Ops:
    def __init__(self, device):
        self.dev = _DEV[device]

    def const(self, a):
        return Tensor(a, device=self.dev).realize()

    tanh = staticmethod(lambda x: x.tanh())
    sigmoid = staticmethod(lambda x: x.sigmoid())
    relu = staticmethod(lambda x: x.relu())
    softmax = staticmethod(lambda x: x.softmax(-1))
    permute = staticmethod(lambda x, axes: x.permute(*axes))
    cross_entropy = staticmethod(lambda logits, y: logits.sparse_categorical_crossentropy(y))
    conv2d = staticmethod(lambda x, w, b: x.conv2d(w, b))
    max_pool2 = staticmethod(lambda x: x.max_pool2d(kernel_size=2))

    @staticmethod
    def mean(x, axis, keepdims=True):
        return x.mean(axis=axis, keepdim=keepdims)

    def trainer(self, arrays, loss_fn):
        params = [Tensor(a.copy(), device=self.dev).realize() for a in arrays]
        opt = nn.optim.SGD(params, lr=LR)

        @TinyJit
        def step():
            with Context(TRAINING=1):  # the optimizer refuses to step otherwise
                opt.zero_grad()
                loss = loss_fn(*params)
                loss.backward()
                # one schedule: the loss is computed from the weights before the update
                return loss.realize(*opt.schedule_step())
        return _jitted(step)

    def grads(self, arrays, fn):
        xs = [Tensor(a, device=self.dev).realize() for a in arrays]

        @TinyJit
        def step():
            y = fn(*xs)
            Tensor.realize(y, *y.gradient(*xs))
            return y
        return _jitted(step)


def _matmul(device, d, p):
    a, b = (Tensor(d[k], device=_DEV[device]).realize() for k in ("a", "b"))
    return _jitted(TinyJit(lambda: (a @ b).realize()))


def _matmul_t(device, d, p):
    x, y = transposed(*(Tensor(d[k], device=_DEV[device]).realize() for k in ("a", "b")), p["form"])
    return _jitted(TinyJit(lambda: (x @ y).realize()))


def _overhead(device, d, p):
    steps = p["steps"]
    x = Tensor(d["x"], device=_DEV[device]).realize()

    def step():
        x.grad = None
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        y.sum().backward()
        # only the gradient is realized: tinygrad fuses the whole forward chain into one C expression,
        # which clang rejects beyond 256 nesting levels, so the forward value stays lazy
        x.grad.realize()
        return None  # no forward value to compare across libraries

    return step


WORKLOADS = {"matmul": _matmul, "matmul_t": _matmul_t, **manual.workloads(Ops), "autograd_overhead": _overhead}
