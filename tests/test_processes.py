"""More than one process: tensors through pickle, fork after the C++ thread pool started or while
another thread walks a tape, tc.multiprocessing (torch.multiprocessing's spawn). Children run under
bounded waits. Each test starts processes once; the pickling tests loop over the devices themselves."""
import copy
import gc
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc
import tinygrad_chain.multiprocessing as mp
from tinygrad_chain import backends
from tinygrad_chain.autograd import collector
from tinygrad_chain.backends import lazy

DEVICES = backends.available()


@pytest.fixture
def device():
    """Overrides the per-device fixture (see the module's docstring)."""
    return None


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", [tc.float32, tc.float64, tc.float16, tc.bfloat16, tc.int64, tc.bool])
def test_pickle_round_trip_keeps_values_dtype_device(dev, dtype):
    t = (tc.arange(12, device=dev) % 5).to(dtype).reshape(3, 4)
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype is dtype and u.device == t.device and u.shape == t.shape
    np.testing.assert_array_equal(to_np(u), to_np(t))
    v = pickle.loads(pickle.dumps(t[1:, ::2]))  # a view: its own values only
    np.testing.assert_array_equal(to_np(v), to_np(t)[1:, ::2])


@pytest.mark.parametrize("dev", DEVICES)
def test_pickle_autograd_fields_as_torch(dev):
    x = tc.randn(3, requires_grad=True, device=dev)
    x.grad = tc.ones(3, device=dev)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.is_leaf and y.grad is None  # torch leaves .grad behind
    z = pickle.loads(pickle.dumps(x * 2))  # a result comes back as a leaf that requires grad
    assert z.is_leaf and z.requires_grad and z.grad_fn is None
    np.testing.assert_array_equal(to_np(z.detach()), to_np(x.detach()) * 2)
    y.detach().add_(1)  # a copy: the original is untouched
    np.testing.assert_array_equal(to_np(x.detach()), to_np(pickle.loads(pickle.dumps(x)).detach()))


@pytest.mark.parametrize("dev", DEVICES)
def test_pickle_parameters_modules_and_pending_results(dev):
    model = tc.nn.Sequential(tc.nn.Linear(4, 3), tc.nn.BatchNorm1d(3)).to(dev)
    back = pickle.loads(pickle.dumps(model))
    for (name, p), q in zip(model.state_dict().items(), back.state_dict().values()):
        np.testing.assert_array_equal(to_np(p), to_np(q), err_msg=name)
    assert type(back[0].weight) is tc.nn.Parameter and back[0].weight.requires_grad
    threshold = lazy.config.min_elements
    lazy.config.min_elements = 1  # a result still pending in the fusing backend
    try:
        a = tc.randn(50, device=dev)
        b = a * 2 + 1
        np.testing.assert_allclose(to_np(pickle.loads(pickle.dumps(b))), to_np(a) * 2 + 1, rtol=1e-6)
    finally:
        lazy.config.min_elements = threshold


@pytest.mark.parametrize("dev", DEVICES)
def test_copy_shares_memory_and_deepcopy_does_not(dev):
    t = tc.zeros(3, device=dev)
    copy.copy(t).add_(1)
    copy.deepcopy(t).add_(5)
    assert to_np(t).tolist() == [1.0] * 3


def _wait(pid, seconds=60):
    """The child's exit status, or kill it and fail past `seconds` (a hang)."""
    for _ in range(int(seconds * 20)):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_the_thread_pool_started():
    """A forked child has none of the pool's threads: its kernels must build a pool of their own
    (a child waiting on the parent's workers would hang)."""
    if not backends.is_available("cpp"):
        pytest.skip("the pool is the cpp device's")
    rng = np.random.default_rng(0)
    a, b = (tc.tensor(rng.standard_normal((256, 256)).astype(np.float32), device="cpp") for _ in range(2))
    want = (a @ b).numpy()  # the pool runs now
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = all(np.array_equal((a @ b).numpy(), want) for _ in range(5))
            code = 0 if ok and len(os.listdir("/proc/self/task")) > 1 else 2  # a new pool, with workers
        finally:
            os._exit(code)
    assert _wait(pid) == 0
    assert np.array_equal((a @ b).numpy(), want)  # and the parent's pool still works


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_another_thread_walks_a_tape():
    """A thread mid-backward at fork time (the collector paused, its lock held) never finishes in
    the child: the child's own backward must neither deadlock nor leave the cyclic GC off."""
    enabled = gc.isenabled()
    collector.pause()  # as the other thread's walk did
    held, release = threading.Event(), threading.Event()

    def hold():
        with collector._lock:
            held.set()
            release.wait(60)
    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                x = tc.ones(3, requires_grad=True)
                (x * 2).sum().backward()
                code = 0 if x.grad.tolist() == [2.0] * 3 and gc.isenabled() == enabled else 2
            finally:
                os._exit(code)
        assert _wait(pid) == 0
    finally:
        release.set()
        t.join()
        collector.resume()
    assert gc.isenabled() == enabled


def _square_into(i, queue, data):
    queue.put((i, data[i] ** 2))


def _raises(i):
    if i == 1:
        raise ValueError("boom in process 1")
    time.sleep(30)  # terminated once process 1 failed


def test_spawn_passes_tensors_both_ways():
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    data = tc.arange(6).float().reshape(2, 3)
    mp.spawn(_square_into, args=(queue, data), nprocs=2)
    got = dict(queue.get() for _ in range(2))
    for i in range(2):
        assert isinstance(got[i], tc.Tensor)
        np.testing.assert_array_equal(to_np(got[i]), to_np(data[i]) ** 2)


def test_spawn_raises_the_childs_error_and_stops_the_others():
    context = mp.start_processes(_raises, nprocs=2, join=False)
    with pytest.raises(mp.ProcessRaisedException, match="(?s)Process 1 terminated.*ValueError: boom in process 1"):
        while not context.join():
            pass
    assert context.processes[0].exitcode == -signal.SIGTERM  # the sleeping one was stopped, not waited for


STRESS = """
import threading, numpy as np, tinygrad_chain as tc
rng = np.random.default_rng(0)
a, b = (tc.tensor(rng.standard_normal((200, 300)).astype(np.float32), device="cpp") for _ in range(2))
x = tc.tensor(rng.standard_normal((400, 500)).astype(np.float32), device="cpp")
want = (a @ b.T).numpy().astype(np.float64), x.softmax(-1).numpy(), x.numpy().astype(np.float64).sum(0)
errors = []
def work():
    try:
        for _ in range(60):
            np.testing.assert_allclose((a @ b.T).numpy(), want[0], rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(x.softmax(-1).numpy(), want[1], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(x.sum(0).numpy(), want[2], rtol=1e-4, atol=1e-3)
    except BaseException as e:
        errors.append(e)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for i in range(200):  # the pool is resized (and built anew) while the kernels run
    tc.set_num_threads(1 + i % 4)
for t in threads: t.join()
tc.set_num_threads(2)
(a @ b.T).numpy()
assert not errors, errors[0]
print("ok")
"""


@pytest.mark.skipif(not backends.is_available("cpp"), reason="the cpp device's thread pool")
def test_kernels_from_threads_while_the_thread_count_changes():
    """Four threads run pooled kernels while the main thread resizes the pool; in a child process
    with a time limit, so a deadlock fails the test instead of hanging the suite."""
    out = subprocess.run([sys.executable, "-c", STRESS], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
