"""tc.distributed, DistributedDataParallel, DistributedSampler and the DDP example.

The collectives and DDP checks run under mpirun (tests/mpi_jobs/): one job per suite and world
size, each rank looping over the test devices itself (numpy, cpp, cpp_kernels, cpp_fused) and
recording every check; the tests below read those records. Every job runs in its own process
session with a bounded time and is killed whole past it, so nothing here can hang.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mpi_jobs import collectives as collective_checks

import tinygrad_chain as tc
import tinygrad_chain.distributed as dist
from tinygrad_chain.distributed import launch
from tinygrad_chain.utils.data import DataLoader, DistributedSampler, TensorDataset

REPO = Path(__file__).resolve().parent.parent
JOB = REPO / "tests" / "mpi_jobs" / "run.py"


def _mpirun():
    try:
        return launch.mpirun_path()
    except FileNotFoundError:
        return None


needs_mpi = pytest.mark.skipif(not dist.is_available() or _mpirun() is None,
                               reason="needs mpi4py and mpirun: pip install -e '.[distributed]'")


@pytest.fixture
def device():
    """Overrides the suite's per-device fixture: the mpirun jobs loop over the devices themselves."""
    return None


def run_mpi(nprocs, args, timeout):
    """(exit code or None when killed at the timeout, output, seconds) of an mpirun job."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = launch.mpirun_command(nprocs) + [sys.executable, *map(str, args)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            cwd=REPO, env=env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # mpirun and every rank: they share its session
        out, rc = proc.communicate()[0], None
    return rc, out, time.monotonic() - start


def run_suite(nprocs, suite, out, timeout=90):
    """Every rank's {check: "ok" or error} of one job."""
    rc, text, _ = run_mpi(nprocs, [JOB, suite, out], timeout)
    assert rc == 0, f"mpirun job {suite} on {nprocs} ranks {'hung' if rc is None else f'exited {rc}'}:\n{text[-4000:]}"
    return [json.loads((Path(out) / f"rank{r}.json").read_text()) for r in range(nprocs)]


def assert_checks(records, prefix):
    names = [k for k in records[0] if k == prefix or k.startswith(prefix + "/")]
    assert names, f"no check named {prefix}"
    failed = {f"rank {r}: {k}": rec.get(k, "not run") for r, rec in enumerate(records) for k in names
              if rec.get(k) != "ok"}
    assert not failed, f"{len(failed)} of {len(names) * len(records)} failed; first:\n" + "\n".join(
        f"{k}\n{v}" for k, v in list(failed.items())[:3])


@pytest.fixture(scope="module")
def collectives_2(tmp_path_factory):
    return run_suite(2, "collectives", tmp_path_factory.mktemp("coll2"))


@pytest.fixture(scope="module")
def collectives_3(tmp_path_factory):
    return run_suite(3, "collectives", tmp_path_factory.mktemp("coll3"))


@pytest.fixture(scope="module")
def ddp_2(tmp_path_factory):
    return run_suite(2, "ddp", tmp_path_factory.mktemp("ddp2"))


# ---- collectives against NumPy, on 2 and 3 ranks --------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("name", collective_checks.GROUPS)
def test_collective_matches_numpy(name, ranks, request):
    assert_checks(request.getfixturevalue(f"collectives_{ranks}"), name)


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_every_reduce_op_dtype_and_layout_checked(ranks, request):
    names = set(request.getfixturevalue(f"collectives_{ranks}")[0])
    for op in collective_checks.INT_OPS:
        for layout in collective_checks.LAYOUTS:
            assert f"all_reduce/{op.name}/int64/{layout}/numpy/async" in names
    for dtype in collective_checks.DTYPES:
        assert f"all_reduce/AVG/{dtype}/noncontiguous/numpy/sync" in names


# ---- DistributedDataParallel against one process ---------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("name", ["equivalence/sgd/float32", "equivalence/sgd/float64", "equivalence/adam/float32",
                                  "equivalence/adam/float64", "equivalence/bucket_view", "no_sync", "find_unused",
                                  "unused_without_flag", "overlap", "state_dict", "buffers", "different_models",
                                  "outside_forward"])
def test_ddp(name, ddp_2):
    assert_checks(ddp_2, name)


# ---- faults: bounded, with the rank and the error in the output -----------------------------------------------
@needs_mpi
def test_a_rank_that_raises_ends_the_job(tmp_path):
    rc, out, seconds = run_mpi(3, [JOB, "rank_raises", tmp_path], timeout=60)
    assert rc not in (0, None), out[-3000:]
    assert seconds < 30, f"took {seconds:.0f} s"
    assert "[rank 2] ValueError: boom on purpose from rank 2" in out, out[-3000:]
    assert "aborting the job" in out


@needs_mpi
def test_a_rank_that_skips_a_collective_times_out(tmp_path):
    rc, out, seconds = run_mpi(2, [JOB, "rank_skips", tmp_path, 2], timeout=60)
    assert rc not in (0, None), out[-3000:]
    assert seconds < 30, f"took {seconds:.0f} s"
    assert "[rank 0] tc.distributed: all_reduce did not complete within 2 s" in out, out[-3000:]


# ---- the example: mpirun -np 2 examples/ddp_mnist.py ----------------------------------------------------------
@needs_mpi
def test_ddp_mnist_example_smoke(tmp_path):
    rc, out, _ = run_mpi(2, [REPO / "examples" / "ddp_mnist.py", "--smoke", "--no-progress", "--out", tmp_path],
                         timeout=120)
    assert rc == 0, out[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["ranks"] == 2 and metrics["checkpoint_matches_every_rank"] is True
    assert 0 <= metrics["heldout_accuracy"] <= 1
    state = tc.load(tmp_path / "checkpoint.pt")
    assert not any(k.startswith("module.") for k in state["model"]), "the bare model's keys"


# ---- in this process: no MPI needed ---------------------------------------------------------------------------
def test_without_mpi4py_not_available_and_init_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    assert not dist.is_available() and not dist.is_mpi_available()
    with pytest.raises(RuntimeError, match=r"pip install 'tinygrad_chain\[distributed\]'"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_before_init_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.all_reduce(tc.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        tc.nn.parallel.DistributedDataParallel(tc.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="'mpi'"):
        dist.init_process_group("gloo")


@needs_mpi
def test_mpirun_found_beside_this_python():
    cmd = launch.mpirun_command(2)
    assert os.access(cmd[0], os.X_OK) and cmd[1:3] == ["-np", "2"]


# ---- DistributedSampler, against torch's ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 10, 11])
@pytest.mark.parametrize("replicas", [2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_data.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_shuffles_alike_on_every_rank_and_per_epoch():
    def shares(epoch, seed=0):
        out = []
        for rank in range(3):
            s = DistributedSampler(range(10), 3, rank, seed=seed)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    first = shares(0)
    assert all(len(s) == 4 for s in first)
    everything = sum(first, [])
    assert set(everything) == set(range(10)) and len(everything) == 12  # 2 padded from the permutation's start
    assert first == shares(0), "the same seed and epoch give the same shares"
    assert first != shares(1) and first != shares(0, seed=1)


def test_sampler_refuses_bad_ranks_and_feeds_a_dataloader():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    data = TensorDataset(tc.arange(10).float(), tc.arange(10))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    assert [y.tolist() for _, y in loader] == [[1, 3], [5, 7], [9]]


# ---- the benchmark: python -m benchmarks --workloads allreduce,ddp_mlp ---------------------------------------
@needs_mpi
def test_distributed_benchmark_smoke(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--workloads", "allreduce,ddp_mlp", "--smoke",
                           "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "distributed.json").read_text())
    assert [(r["workload"], r["ranks"]) for r in doc["runs"]] == [("allreduce", 2), ("ddp_mlp", 1), ("ddp_mlp", 2)]
    assert not [r for r in doc["runs"] if "failed" in r], doc["runs"]
    sizes = doc["runs"][0]["rows"]
    assert all({"mpi4py", "tinygrad_chain:numpy", "tinygrad_chain:cpp"} <= set(row) for row in sizes)
    assert "| DDP, buckets of 1 MB (overlapping backward) |" in (tmp_path / "distributed.md").read_text()
