"""HIPS autograd: functional reverse mode over NumPy (value_and_grad)."""
import autograd
import autograd.numpy as anp
import numpy as np
from autograd import grad, value_and_grad
from autograd.scipy.special import logsumexp

from benchmarks.runners import manual
from benchmarks.workloads import LR

NAME = "autograd"


def probe():
    from importlib.metadata import version
    return {"version": version("autograd"), "devices": [("cpu", "cpu")], "skipped": []}


def configure(threads):
    pass


def sync(device):
    pass


def scalar(v):
    return float(np.sum(v))


class Ops:
    const = staticmethod(lambda a: a)
    tanh = staticmethod(anp.tanh)
    sigmoid = staticmethod(lambda x: 0.5 * (anp.tanh(0.5 * x) + 1.0))  # stable, no overflow
    relu = staticmethod(lambda x: anp.maximum(x, 0.0))
    permute = staticmethod(anp.transpose)

    @staticmethod
    def softmax(x):
        e = anp.exp(x - anp.max(x, axis=-1, keepdims=True))
        return e / anp.sum(e, axis=-1, keepdims=True)

    @staticmethod
    def mean(x, axis, keepdims=True):
        return anp.mean(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def cross_entropy(logits, y):
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.mean(logp[np.arange(logits.shape[0]), y])

    @staticmethod
    def conv2d(x, w, b):
        # valid 3x3 convolution: the 9 shifted windows, contracted with the kernel
        k, ho, wo = w.shape[-1], x.shape[2] - w.shape[-1] + 1, x.shape[3] - w.shape[-1] + 1
        win = anp.stack([x[:, :, i:i + ho, j:j + wo] for i in range(k) for j in range(k)], axis=2)
        return anp.einsum("bckhw,ock->bohw", win, anp.reshape(w, (w.shape[0], w.shape[1], k * k))) \
            + anp.reshape(b, (1, -1, 1, 1))

    @staticmethod
    def max_pool2(x):
        b, c, h, w = x.shape
        ho, wo = h // 2, w // 2
        win = anp.reshape(x[:, :, :2 * ho, :2 * wo], (b, c, ho, 2, wo, 2))
        return anp.max(win, axis=(3, 5))

    @staticmethod
    def trainer(arrays, loss_fn):
        params = [a.copy() for a in arrays]
        vg = value_and_grad(lambda ps: loss_fn(*ps))

        def step():
            loss, grads = vg(params)
            # autograd returns some gradients in float64; keep the weights float32
            params[:] = [(p - LR * g).astype(np.float32, copy=False) for p, g in zip(params, grads)]
            return loss
        return step

    @staticmethod
    def grads(arrays, fn):
        vg = value_and_grad(lambda xs: fn(*xs))

        def step():
            value, _ = vg(list(arrays))
            return value
        return step


def _matmul(device, d, p):
    a, b = d["a"], d["b"]
    return lambda: anp.dot(a, b)


def _overhead(device, d, p):
    steps = p["steps"]

    def f(x):
        for _ in range(steps):
            x = x * 1.0001 + 0.0001
        return x
    vg = value_and_grad(f)
    x = d["x"].reshape(())
    return lambda: vg(x)[0]


WORKLOADS = {"matmul": _matmul, **manual.workloads(lambda device: Ops()), "autograd_overhead": _overhead}
