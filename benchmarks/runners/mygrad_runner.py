"""MyGrad: NumPy-backed tensors with a tape (rsokl/MyGrad)."""
import mygrad as mg
import numpy as np
from mygrad.nnet.activations import relu, sigmoid, softmax
from mygrad.nnet.layers import conv_nd, max_pool
from mygrad.nnet.losses import softmax_crossentropy

from benchmarks.runners import manual
from benchmarks.workloads import LR

NAME = "mygrad"


def probe():
    return {"version": mg.__version__, "devices": [("cpu", "cpu")], "skipped": []}


def configure(threads):
    pass


def sync(device):
    pass


def scalar(v):
    return float(np.sum(mg.asarray(v)))


class Ops:
    const = staticmethod(lambda a: a)  # plain arrays are constants to MyGrad
    tanh = staticmethod(mg.tanh)
    sigmoid = staticmethod(sigmoid)
    relu = staticmethod(relu)
    permute = staticmethod(lambda x, axes: mg.transpose(x, axes))
    softmax = staticmethod(lambda x: softmax(x, axis=-1))
    cross_entropy = staticmethod(softmax_crossentropy)  # mean over the batch
    conv2d = staticmethod(lambda x, w, b: conv_nd(x, w, stride=(1, 1)) + b.reshape((1, -1, 1, 1)))

    @staticmethod
    def max_pool2(x):  # MyGrad wants exact tiling: drop the odd last row/column as torch does
        h, w = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
        return max_pool(x[:, :, :h, :w], pool=(2, 2), stride=(2, 2))

    @staticmethod
    def mean(x, axis, keepdims=True):
        return mg.mean(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def trainer(arrays, loss_fn):
        params = [mg.tensor(a.copy()) for a in arrays]

        def step():
            loss = loss_fn(*params)
            loss.backward()
            for p in params:
                p.data -= LR * p.grad  # the graph is cleared by backward, so the data is writable
            return loss.item()
        return step

    @staticmethod
    def grads(arrays, fn):
        xs = [mg.tensor(a) for a in arrays]

        def step():
            y = fn(*xs)
            y.backward()
            return y.item()
        return step


def _matmul(device, d, p):
    a, b = mg.tensor(d["a"], constant=True), mg.tensor(d["b"], constant=True)
    return lambda: a @ b


def _overhead(device, d, p):
    steps = p["steps"]
    x = mg.tensor(d["x"].reshape(()))

    def step():
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        y.backward()
        return y.item()
    return step


WORKLOADS = {"matmul": _matmul, **manual.workloads(lambda device: Ops()), "autograd_overhead": _overhead}
