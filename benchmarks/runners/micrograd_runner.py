"""micrograd (karpathy/micrograd): scalar Values only, so only autograd_overhead.

Its backward sorts the graph recursively, so the recursion limit is raised to
cover a 10,000-op chain.
"""
import sys

from micrograd.engine import Value

NAME = "micrograd"


def probe():
    from importlib.metadata import version
    return {"version": version("micrograd"), "devices": [("cpu", "cpu")], "skipped": []}


def configure(threads):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))


def sync(device):
    pass


def scalar(v):
    return float(v.data)


def _overhead(device, d, p):
    steps = p["steps"]
    x = Value(float(d["x"][0]))

    def step():
        x.grad = 0.0
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        y.backward()
        return y
    return step


WORKLOADS = {"autograd_overhead": _overhead}
