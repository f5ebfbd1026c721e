"""csrc/apply.cpp, the C apply, against registry.py's Python apply (the definition it mirrors).

Every scenario runs twice, once through each, on fresh inputs: the outputs, the nodes they
record (input records, parents, saved versions, output records) and the gradients must be the
same, and so must every error, type and message. test_apply_python.py runs test modules on the
Python apply alone, as where the extension is not built.
"""
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
