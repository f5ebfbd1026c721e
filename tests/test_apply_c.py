"""csrc/apply.cpp, the C apply, against registry.py's Python apply (the definition it mirrors).

Every scenario runs twice, once through each, on fresh inputs: the outputs, the nodes they
record (input records, parents, saved versions, output records) and the gradients must be the
same, and so must every error, type and message. test_apply_python.py runs test modules on the
Python apply alone, as where the extension is not built.
"""
import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc
from tinygrad_chain.autograd.in_c import C
from tinygrad_chain.ops import registry

F = tc.nn.functional

pytestmark = pytest.mark.skipif(C is None, reason="the C apply is off (no extension, or TINYGRAD_CHAIN_PYTHON_APPLY=1)")


def test_apply_is_the_c_one():
    assert registry.apply is C.apply and registry.python_apply is not C.apply
    assert tc.Tensor.make.__self__ is tc.Tensor


def run_both(scenario):
    """scenario() run through the C apply and then the Python one: the two results."""
    results = []
    for c in (True, False):
        was = C.apply_enabled(c)
        try:
            tc.manual_seed(0)
            results.append(scenario())
        finally:
            C.apply_enabled(was)
    return results


def describe(t):
    """What a tensor and the node that made it record, with parents by position, not identity."""
    node = t.grad_fn
    out = [to_np(t).tobytes(), t.shape, t.dtype, t.device, t.requires_grad, t._version[0]]
    if node is None:
        return out
    out += [node.name(), node.attrs, node.in_meta, node.seq > 0, node._versions, node._out_version,
            node.saved is None, node._out is None, [type(p).__name__ for p in node.parents],
            None if node._inputs is None else [type(a).__name__ for a in node._inputs]]
    return out


def leaves(*shapes, dtype=tc.float32):
    return [tc.randn(s, dtype=dtype, requires_grad=True) for s in shapes]


def other_cpu(x):
    return "numpy" if x._b.name != "numpy" else "cpp"


def under_no_grad(x):
    with tc.no_grad():
        return x * 2


# each: (the inputs it makes, the function of them)
SCENARIOS = {
    "tensor times scalar": (lambda: leaves(()), lambda x: x * 1.0001 + 0.0001),
    "scalar first": (lambda: leaves((3,)), lambda x: 2.0 / x - 1),
    "broadcast": (lambda: leaves((2, 3), (3,)), lambda a, b: a * b),
    "no grad input": (lambda: leaves((3,)), lambda b: tc.ones(2, 3) * b),
    "nothing requires grad": (lambda: [], lambda: tc.ones(2) + tc.ones(2)),
    "float only on ints": (lambda: [], lambda: tc.arange(4).exp()),
    "int promotion": (lambda: [], lambda: tc.arange(4) * 0.5),
    "half": (lambda: leaves((3,), dtype=tc.float16), lambda x: x * 3),
    "float64 stays": (lambda: leaves((3,), dtype=tc.float64), lambda x: x.tanh() * 2),
    "view shares the version": (lambda: leaves((2, 3)), lambda x: x.reshape(3, 2).t()),
    "attributes": (lambda: leaves((2, 3)), lambda x: x.sum(dim=1, keepdim=True)),
    "op with a check": (lambda: leaves((2, 3), (3, 4)), lambda a, b: a @ b),
    "saves extra": (lambda: leaves((1, 1, 4, 4)), lambda x: F.max_pool2d(x, 2)),
    "reads some inputs": (lambda: leaves((3,), (3,)), lambda a, b: a.pow(b)),
    "comparison": (lambda: leaves((3,)), lambda a: a > 0),
    "device change": (lambda: leaves((3,)), lambda x: x.to(other_cpu(x))),
    "no grad mode": (lambda: leaves((3,)), under_no_grad),
}


def scenario(name, backward=False):
    make, f = SCENARIOS[name]

    def run():
        xs = make()
        y = f(*xs)
        if not backward:
            return describe(y)
        y.float().sum().backward()
        return [to_np(x.grad).tobytes() for x in xs]
    return run


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_records_as_python_apply(name):
    c, py = run_both(scenario(name))
    assert c == py


@pytest.mark.parametrize("name", ["tensor times scalar", "scalar first", "broadcast", "view shares the version",
                                  "op with a check", "saves extra", "reads some inputs", "half", "float64 stays",
                                  "device change"])
def test_same_gradients_as_python_apply(name):
    c, py = run_both(scenario(name, backward=True))
    assert c == py and c


def test_retain_grads_and_higher_order():
    def run():
        x = leaves((3,))[0]
        with tc.autograd.retain_grads():
            y = (x * x).sin()
            y.sum().backward(retain_graph=True)
        (gx,) = tc.autograd.grad(y.sum(), x, create_graph=True)
        gx.sum().backward()
        return to_np(x.grad).tobytes(), to_np(y.grad).tobytes()
    c, py = run_both(run)
    assert c == py


def modify_saved_output():
    y = leaves((3,))[0].exp()  # exp's VJP reads its output
    s = y.sum()
    y.mul_(2)
    s.backward()


ERRORS = {
    "shapes": lambda: leaves((2, 3))[0] + leaves((4,))[0],
    "matmul shapes": lambda: leaves((2, 3))[0] @ leaves((2, 3))[0],
    "no tensor": lambda: registry.apply(registry.REGISTRY["add"], 1.0, 2.0),
    "in-place on a leaf": lambda: leaves((3,))[0].add_(1),
    "saved output modified": modify_saved_output,
}


@pytest.mark.parametrize("name", ERRORS)
def test_same_errors_as_python_apply(name):
    def caught():
        try:
            ERRORS[name]()
        except Exception as e:  # noqa: BLE001  (compared below: the same type and message)
            return type(e), str(e)
        return None
    c, py = run_both(caught)
    assert c is not None and c == py


def test_devices_are_named_as_python_names_them(other_device):
    if other_device is None:
        pytest.skip("one device here")
    a = tc.ones(2, 3, requires_grad=True)
    b = tc.ones(2, 3, device=other_device)

    def caught():
        with pytest.raises(RuntimeError) as e:
            a + b
        return str(e.value)
    c, py = run_both(caught)
    assert c == py and other_device in c


# ---- what the review of the C apply found: hostile checks, odd forwards, and side effects run once ----
@pytest.fixture(autouse=True)
def _registry_kept():
    """The ops a test registers leave the registry with it (the op database lists every registered op)."""
    before = set(registry.REGISTRY)
    yield
    for name in set(registry.REGISTRY) - before:
        del registry.REGISTRY[name]


def _op(name, **body):
    """A registered op made for one test."""
    cls = type(name.title().replace("_", ""), (registry.Op,), {"name": name, **body})
    return registry.register(cls)


def test_a_check_that_replaces_the_inputs_array_does_not_free_what_forward_reads():
    def check(self, x):
        x._data = np.zeros(3, np.float32)  # the array apply read before check is no longer the tensor's

    op = _op("review_replace_data", check=check, forward=lambda self, b, x: x + 1)

    def run():
        x = tc.tensor(np.arange(100_000, dtype=np.float32))
        y = registry.apply(op, x)
        del x
        [np.full(100_000, 7, np.float32) for _ in range(20)]  # reuse freed memory, if any was freed
        return to_np(y)[:3].tolist(), y.shape
    c, py = run_both(run)
    assert c == py == ([1.0, 2.0, 3.0], (100_000,))


def test_a_deleted_array_raises_as_python_raises():
    def check(self, x):
        del x._data

    op = _op("review_delete_data", check=check, forward=lambda self, b, x: x + 1)

    def run():
        x = tc.ones(3, requires_grad=True)
        try:
            registry.apply(op, x)
        except AttributeError as e:
            return str(e)
        return None
    c, py = run_both(run)
    assert c == py and "_data" in c


def test_a_failing_forward_runs_once():
    calls = []

    def forward(self, b, x):
        calls.append(1)
        raise ValueError("operands could not be broadcast together")

    op = _op("review_failing_forward", check=lambda self, x: calls.append(0), forward=forward)

    def run():
        calls.clear()
        with pytest.raises(RuntimeError) as e:
            registry.apply(op, tc.ones(3))
        assert e.value.__cause__ is None and e.value.__suppress_context__
        return str(e.value), list(calls)
    c, py = run_both(run)
    assert c == py and c[1] == [0, 1] and "review_failing_forward" in c[0]


@pytest.mark.parametrize("result", ["list", "triple"])
def test_a_saves_extra_forward_unpacks_as_python_does(result):
    def forward(self, b, x):
        out = b.binary("add", x, 1.0)
        return [out, None] if result == "list" else (out, None, None)

    op = _op(f"review_saves_extra_{result}", saves_extra=True, forward=forward, vjp=lambda self, ctx, g: (g,))

    def run():
        try:
            return to_np(registry.apply(op, tc.ones(2, requires_grad=True))).tolist()
        except ValueError as e:
            return str(e)
    c, py = run_both(run)
    assert c == py


def test_version_counters_are_read_as_python_reads_them():
    def run():
        x = tc.ones(3, requires_grad=True)
        x._version = []  # no version now: Python's record reads x._version[0]
        try:
            x + x
        except IndexError as e:
            return str(e)
        return None
    c, py = run_both(run)
    assert c == py and c is not None


def test_an_attribute_named_op_is_refused_as_python_refuses_it():
    def run():
        with pytest.raises(TypeError) as e:
            registry.apply(registry.REGISTRY["add"], tc.ones(2), tc.ones(2), op=1)
        return str(e.value)
    c, py = run_both(run)
    assert c == py and "op" in c
