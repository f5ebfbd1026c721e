"""Fusion as the backend's business (backends/lazy.py), tested on the backend interface itself,
without Tensors: the cpp backend's elementwise methods return LazyArrays, its other methods
compute them first, writes compute what still reads the memory, and memory handed out or taken
in is never read lazily. Values are checked against the numpy backend (the reference)."""
import numpy as np
import pytest

pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")

from tinygrad_chain import backends  # noqa: E402
from tinygrad_chain.backends import lazy  # noqa: E402
from tinygrad_chain.backends.lazy import LazyArray  # noqa: E402


@pytest.fixture(autouse=True)
def device():
    """These tests call the cpp backend directly: they run once, not once per device (conftest)."""
    yield "cpp"


@pytest.fixture
def b(monkeypatch):
    """The cpp backend, fusing arrays of any size."""
    monkeypatch.setattr(lazy.config, "min_elements", 1)
    monkeypatch.setattr(lazy.config, "enabled", True)
    return backends.get("cpp")


@pytest.fixture
def programs(monkeypatch):
    """(n_inputs, n_outputs, n_sums) of every fused program run."""
    ran = []
    cls = type(backends.get("cpp"))
    real = cls.run_fused

    def spy(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch=None):
        ran.append((len(inputs), len(outputs), n_sums))
        return real(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch)
    monkeypatch.setattr(cls, "run_fused", spy)
    return ran


def arr(n, seed, dtype=np.float32):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n).astype(dtype)


def test_elementwise_methods_record_and_match_the_reference(b):
    ref = backends.get("numpy")
    x, y = arr(300, 0, np.float64), arr(300, 1, np.float64)
    for lib in (b, ref):
        t = lib.binary("add", lib.binary("mul", x, y), 0.5)
        outs = [t, lib.unary("exp", lib.unary("neg", t)), lib.relu(lib.binary("sub", x, y)), lib.sigmoid(t),
                lib.unary("tanh", t), lib.tanh_backward(x, lib.unary("tanh", t)), lib.sigmoid_backward(y, t),
                lib.relu_backward(y, lib.binary("sub", x, 1.0)), lib.binary("maximum", t, y),
                lib.binary("div", lib.unary("sqrt", t), y), lib.act("tanh", t), lib.act_backward("relu", x, t)]
        if lib is b:
            assert all(type(o) is LazyArray and o.value is None for o in outs)
            got = [lib.to_numpy(o) for o in outs]
        else:
            want = outs
    for g, w in zip(got, want):
        assert type(g) is np.ndarray
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)


def test_a_lazy_array_answers_like_an_array_without_computing(b):
    x = arr(12, 0).reshape(3, 4)
    p = b.binary("mul", x, 2.0)
    assert (p.shape, p.dtype, p.ndim, p.size) == ((3, 4), np.dtype(np.float32), 2, 12)
    assert b.dtype_of(p).name == "float32" and b.uniform_value(p) is None
    assert p.value is None  # none of that computed it


def test_other_methods_see_computed_arrays(b, programs):
    x, w = arr(6, 0).reshape(2, 3), arr(12, 1).reshape(3, 4)
    p = b.binary("add", x, 1.0)
    np.testing.assert_allclose(b.matmul(p, w), (x + 1) @ w, rtol=1e-6)
    assert p.value is not None and programs == [(1, 1, 0)]
    q = b.binary("mul", x, 3.0)
    np.testing.assert_allclose(b.reshape(q, (3, 2)), (x * 3).reshape(3, 2))
    np.testing.assert_allclose(b.reduce("max", b.binary("sub", x, 1.0), (1,), False), (x - 1).max(1))


def test_a_sum_of_everything_runs_in_the_pass(b, programs):
    x = arr(1000, 0, np.float64)
    t = b.unary("tanh", b.binary("mul", x, x))
    s = b.reduce("sum", t, None, False)
    assert type(s) is np.ndarray and s.shape == () and t.value is None  # t stays pending
    np.testing.assert_allclose(s, np.tanh(x * x).sum(), rtol=1e-12)
    assert programs == [(1, 0, 1)]


def test_results_sharing_a_pending_node_are_computed_together(b, programs):
    """A backward pass's gradients share their inputs: reading one computes the others in
    the same program, which reads the inputs once."""
    x, w, g = arr(500, 0), arr(500, 1), arr(500, 2)
    gx, gw = b.mul_backward(b.tanh_backward(g, b.unary("tanh", x)), x, w)
    b.to_numpy(gx)
    assert programs == [(3, 2, 0)]  # the shared factor, held by nothing else, is never stored
    assert gw.value is not None
    y = np.tanh(x)
    np.testing.assert_allclose(gw, g * (1 - y * y) * x, rtol=1e-5)


def test_writes_compute_first_what_reads_the_memory(b):
    x = arr(8, 0)
    keep = x.copy()
    readers = [b.binary("mul", x, 2.0)]
    b.copy_into(x, 0.0)
    writes = [lambda: b.setitem(x, 0, 5.0), lambda: b.index_add(x, np.array([1]), np.ones(1, np.float32)),
              lambda: b.sgd_step(x, np.ones(8, np.float32), None, 0.5, 0.0, 0.0, False, 0.0),
              lambda: b.writable(x).__setitem__(2, 7.0)]  # a caller writing the memory itself
    for write in writes:
        before = x.copy()
        readers.append(b.binary("mul", x, 2.0))
        write()
        np.testing.assert_array_equal(b.to_numpy(readers[-1]), before * 2)
    np.testing.assert_array_equal(readers[0].value, keep * 2)
    v = arr(8, 1)
    r2 = b.binary("add", v, 1.0)
    m, s = np.zeros(8, np.float32), np.zeros(8, np.float32)
    b.adam_step(v, np.ones(8, np.float32), m, s, None, 1, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False)
    np.testing.assert_allclose(b.to_numpy(r2), arr(8, 1) + 1.0)


def test_writing_into_a_lazy_array_computes_its_readers_first(b):
    x = arr(8, 0)
    p = b.binary("mul", x, 2.0)
    q = b.binary("add", p, 1.0)  # reads p
    b.copy_into(p, 0.0)          # p computed, then its readers, then written
    np.testing.assert_allclose(b.to_numpy(q), x * 2 + 1)
    assert not b.to_numpy(p).any()
    r = b.binary("sub", x, 1.0)
    s = b.binary("mul", r, 4.0)
    r += 10.0  # code outside the backend writing a LazyArray: the same rule
    np.testing.assert_allclose(b.to_numpy(s), (x - 1) * 4, rtol=1e-6)
    np.testing.assert_allclose(b.to_numpy(r), x + 9, rtol=1e-6)


def test_memory_handed_out_or_taken_in_is_never_read_lazily(b):
    x = arr(8, 0)
    assert type(b.binary("mul", x, 2.0)) is LazyArray
    out = b.shared(x)  # code outside now holds x (Tensor.numpy())
    assert out is x and type(b.binary("mul", x, 2.0)) is np.ndarray
    assert type(b.binary("mul", x[2:], 2.0)) is np.ndarray  # a view of it too
    for taken in (b.from_numpy(arr(8, 1)), b.from_dlpack(arr(8, 2))):
        assert type(b.binary("mul", taken, 2.0)) is np.ndarray
    y = arr(8, 3)
    b.to_dlpack(y)
    assert type(b.binary("mul", y, 2.0)) is np.ndarray
    z = arr(8, 4)
    b.to_numpy(z)  # reading values is not handing memory out
    assert type(b.binary("mul", z, 2.0)) is LazyArray


def test_shared_computes_a_lazy_array(b):
    p = b.binary("mul", arr(8, 0), 2.0)
    out = b.shared(p)
    assert type(out) is np.ndarray and p.value is out
    assert type(b.binary("add", p, 1.0)) is np.ndarray  # its memory is handed out now


def test_small_arrays_stay_eager_at_the_default_threshold():
    b = backends.get("cpp")
    x = np.ones(16, np.float32)
    assert type(b.binary("mul", x, 2.0)) is np.ndarray
    big = np.ones(lazy.config.min_elements, np.float32)
    assert (type(b.binary("mul", big, 2.0)) is LazyArray) == lazy.config.enabled


def test_a_backend_that_does_not_fuse_returns_arrays():
    ref = backends.get("numpy")
    x = arr(8, 0)
    assert not hasattr(ref, "fused_ops")
    assert type(ref.binary("mul", x, 2.0)) is np.ndarray
    assert ref.writable(x) is x and ref.shared(x) is x and ref.from_numpy(x) is x


def test_which_ops_fuse_is_the_backends_knowledge(b):
    """Keyed by the backend's method and instruction names: every instruction is one the
    backend has a method for, and nothing above the backend names them."""
    cls = type(b)
    for name in cls.fused_ops:
        assert name == "sum" or hasattr(cls, name) or name in b._binary or name in b._unary, name


def test_computing_an_expression_frees_its_nodes_by_reference_count(b):
    """Whatever runs a program drops its nodes by reference count: nodes held in a reference cycle
    (a self-calling closure did that) would keep their arrays until the cyclic collector ran, and
    a training step would fault in fresh memory for them every time."""
    import gc
    import weakref
    x, y = arr(300, 0), arr(300, 1)
    gc.disable()
    try:
        nodes = []
        for _ in range(3):
            t = b.binary("add", b.binary("mul", x, y), 0.5)
            tanh = b.unary("tanh", t)
            grads = [b.tanh_backward(x, tanh), b.sigmoid_backward(y, t)]
            total = b.reduce("sum", b.binary("mul", t, y), None, False)
            b.to_numpy(grads[0])
            nodes += [weakref.ref(n) for n in (t, tanh, *grads)]
            del t, tanh, grads, total
        alive = [n() for n in nodes if n() is not None]
        assert not alive, f"{len(alive)} of {len(nodes)} nodes outlive their expression"
    finally:
        gc.enable()
