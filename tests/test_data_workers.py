"""DataLoader with num_workers > 0: worker processes under fork, spawn and forkserver.

Batches must be the ones the main process would load, in sampler order; a worker's exception
reaches the main process with its traceback; a dead or slow worker raises instead of hanging.
Every test runs under an alarm, so a hang fails it rather than the suite.
"""
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import to_np

import tinygrad_chain as tc
from tinygrad_chain.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info

METHODS = [m for m in ("fork", "spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]


@pytest.fixture
def device():
    """Overrides the per-device fixture: the workers load on the default CPU device."""
    return None


@pytest.fixture(autouse=True)
def deadline():
    def hung(*_):
        raise TimeoutError("DataLoader test hung")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


class Squares(Dataset):
    """(tensor, int) samples; records which worker loaded each, and fails where asked."""

    def __init__(self, n, fail_at=None, exit_at=None, sleep=0.0):
        self.n, self.fail_at, self.exit_at, self.sleep = n, fail_at, exit_at, sleep

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"bad sample {i}")
        if i == self.exit_at:
            os._exit(3)
        time.sleep(self.sleep)
        info = get_worker_info()
        return tc.tensor([float(i), float(i * i)]), -1 if info is None else info.id


class Shards(IterableDataset):
    """Each worker yields its own share, as torch's documentation shows."""

    def __iter__(self):
        info = get_worker_info()
        start, step = (info.id, info.num_workers) if info is not None else (0, 1)
        return iter(range(start, 20, step))


class Unsharded(IterableDataset):
    def __iter__(self):
        return iter(range(5))


def record_seed(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 3
    os.environ["SEEN_SEED"] = str(info.seed)  # read back through the dataset below


class Seeds(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return int(os.environ["SEEN_SEED"]), get_worker_info().seed, tc.rand(1).item()


def failing_init(worker_id):
    raise KeyError(f"init of worker {worker_id}")


def data(n=30):
    return TensorDataset(tc.arange(n).float().reshape(n, 1), tc.arange(n))


def labels(loader):
    return [to_np(y).tolist() for _, y in loader]


@pytest.mark.parametrize("method", METHODS)
def test_batches_match_the_main_process(method):
    shuffled = dict(batch_size=4, shuffle=True)
    want = labels(DataLoader(data(), generator=tc.Generator().manual_seed(5), **shuffled))
    got = labels(DataLoader(data(), generator=tc.Generator().manual_seed(5), num_workers=2,
                            multiprocessing_context=method, **shuffled))
    assert got == want and sorted(sum(got, [])) == list(range(30))
    batches = list(DataLoader(Squares(23), batch_size=5, num_workers=3, multiprocessing_context=method))
    assert [to_np(x)[:, 0].tolist() for x, _ in batches] == [[float(i) for i in range(b, min(b + 5, 23))]
                                                             for b in range(0, 23, 5)]
    assert [to_np(w).tolist() for _, w in batches] == [[0] * 5, [1] * 5, [2] * 5, [0] * 5, [1] * 3]  # round-robin
    shards = DataLoader(Shards(), batch_size=3, num_workers=2, multiprocessing_context=method)
    assert sorted(sum((to_np(b).tolist() for b in shards), [])) == list(range(20))


def test_an_unsharded_iterable_dataset_is_loaded_by_every_worker():
    got = sum((to_np(b).tolist() for b in DataLoader(Unsharded(), batch_size=2, num_workers=2)), [])
    assert sorted(got) == sorted(list(range(5)) * 2)  # torch's rule: each worker iterates its own copy


def test_worker_seeds_and_init_fn():
    tc.manual_seed(7)
    first = list(DataLoader(Seeds(), batch_size=None, num_workers=3, worker_init_fn=record_seed))
    tc.manual_seed(7)
    again = list(DataLoader(Seeds(), batch_size=None, num_workers=3, worker_init_fn=record_seed))
    seen = [(int(a), int(b)) for a, b, _ in first]
    assert all(a == b for a, b in seen)  # worker_init_fn ran in the worker that loads
    base = seen[0][0]
    assert [b - base for _, b in seen] == [0, 1, 2, 0, 1, 2]  # base_seed + worker id
    assert [r for *_, r in first] == [r for *_, r in again]  # tc.manual_seed fixes the workers' draws
    assert len({r for *_, r in first[:3]}) == 3  # and each worker draws its own numbers


@pytest.mark.parametrize("method", METHODS[:2])
def test_an_exception_in_a_worker_reaches_the_main_process(method):
    loader = DataLoader(Squares(23, fail_at=17), batch_size=5, num_workers=2, multiprocessing_context=method)
    with pytest.raises(ValueError) as err:
        list(loader)
    text = str(err.value)
    assert "Caught ValueError in DataLoader worker process 1" in text
    assert "Original Traceback" in text and "bad sample 17" in text and "__getitem__" in text


def test_workers_make_tensors_on_the_main_processs_default_device_and_dtype():
    device, dtype = tc.get_default_device(), tc.get_default_dtype()
    tc.set_default_device("numpy")
    tc.set_default_dtype(tc.float64)
    try:
        x, _ = next(iter(DataLoader(Squares(4), batch_size=2, num_workers=1, multiprocessing_context="spawn")))
    finally:
        tc.set_default_device(device)
        tc.set_default_dtype(dtype)
    assert str(x.device) == "numpy" and x.dtype is tc.float64


def test_worker_init_fn_error_is_raised_for_the_first_batch():
    with pytest.raises(KeyError, match="init of worker 0"):
        next(iter(DataLoader(Squares(4), num_workers=1, worker_init_fn=failing_init)))


def test_a_worker_that_dies_raises_instead_of_hanging():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+: exit code 3\) exited unexpectedly"):
        list(DataLoader(Squares(10, exit_at=4), batch_size=2, num_workers=2))


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Squares(4, sleep=5), num_workers=1, timeout=0.5))


def test_persistent_workers_keep_their_processes_between_epochs():
    loader = DataLoader(data(), batch_size=8, shuffle=True, num_workers=2, persistent_workers=True)
    epochs = [labels(loader) for _ in range(3)]
    assert all(sorted(sum(e, [])) == list(range(30)) for e in epochs) and epochs[0] != epochs[1]
    pids = [w.pid for w in loader._workers._workers]
    it = iter(loader)
    next(it)  # an epoch left unfinished: its answers in flight must not leak into the next
    assert sorted(sum(labels(loader), [])) == list(range(30))
    assert [w.pid for w in loader._workers._workers] == pids
    shards = DataLoader(Shards(), batch_size=4, num_workers=2, persistent_workers=True)
    for _ in range(2):  # an IterableDataset starts over in each epoch
        assert sorted(sum((to_np(b).tolist() for b in shards), [])) == list(range(20))


class DiesOnce(Dataset):
    """Its first load ever exits the worker; later ones (new workers) load."""

    def __init__(self, marker):
        self.marker = marker

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(3)
        return i


def test_persistent_workers_are_replaced_after_one_died(tmp_path):
    loader = DataLoader(DiesOnce(tmp_path / "died"), batch_size=2, num_workers=2, persistent_workers=True)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(loader)
    assert sorted(sum((to_np(b).tolist() for b in loader), [])) == list(range(6))


def test_worker_options_are_checked():
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(data(), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(data(), persistent_workers=True)
    with pytest.raises(ValueError, match="multiprocessing_context can only be used"):
        DataLoader(data(), multiprocessing_context="spawn")
    with pytest.raises(ValueError, match="should specify a valid start method"):
        DataLoader(data(), num_workers=1, multiprocessing_context="threads")
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(data(), timeout=-1)
    assert labels(DataLoader(data(4), batch_size=2, num_workers=1, pin_memory=True)) == [[0, 1], [2, 3]]


def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys, time
        import tinygrad_chain as tc
        from tinygrad_chain.utils.data import DataLoader, TensorDataset
        loader = DataLoader(TensorDataset(tc.arange(100)), batch_size=1, num_workers=2)
        it = iter(loader)
        next(it)
        print(" ".join(str(w.pid) for w in it._workers), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up runs
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    for _ in range(300):  # bounded: the workers notice within their poll interval
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and "Z" not in _state(p)]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, f"workers {alive} outlived the main process"


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


TORCH_SCRIPT = """
import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset


class Samples(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):  # in a worker: torch must be the alias there too
        return torch.tensor([float(i)]), type(torch.zeros(1)).__module__


def square(i, q):
    q.put((i, type(torch.ones(1) * i).__module__))


if __name__ == "__main__":
    for method in ("fork", "spawn", "forkserver"):
        if method in mp.get_all_start_methods():
            for x, where in DataLoader(Samples(), batch_size=2, num_workers=2, multiprocessing_context=method):
                print(method, type(x).__module__, *where)
    q = mp.get_context("spawn").SimpleQueue()
    mp.spawn(square, args=(q,), nprocs=2)
    print("spawn", *sorted(q.get()[1] for _ in range(2)))
"""


def test_an_aliased_torch_script_gets_the_alias_in_its_workers(tmp_path):
    """python -m tinygrad_chain.torch_compat: processes started by spawn or forkserver begin in a fresh
    interpreter; they must import tinygrad_chain as torch too (they imported the real torch)."""
    script = tmp_path / "train.py"
    script.write_text(TORCH_SCRIPT)
    out = subprocess.run([sys.executable, "-m", "tinygrad_chain.torch_compat", str(script)], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 2 * len(METHODS) + 1
    assert all(set(line.split()[1:]) == {"tinygrad_chain.tensor"} for line in lines), lines
