"""The distributed workloads, run under mpirun by benchmarks/dist_bench.py.

    mpirun -np N python -m benchmarks.dist_worker allreduce|ddp_mlp '<json spec>'

Contenders alternate call by call, so outside load falls on all of them alike; each repeat's
time is the slowest rank's (a collective is done when its last rank is). Rank 0 prints one
line: TAG + json.
"""
import json
import statistics
import sys
import time

import numpy as np

TAG = "@@DIST "


def timed_blocks(comm, contenders, repeat, min_time):
    """{name: [seconds per call, one per repeat]}. Within a repeat the contenders alternate call by
    call (in a rotating order), each call timed on its own, so a burst of outside load falls on all
    of them alike; a repeat's time is the slowest rank's sum over its calls."""
    from mpi4py import MPI
    names = list(contenders)
    once = 0.0
    for name in names:
        contenders[name]()  # warm-up: buffers, first-touch page faults
        comm.Barrier()
        t0 = time.perf_counter()
        contenders[name]()
        once += time.perf_counter() - t0
    inner = max(1, min(2000, int(min_time / max(comm.allreduce(once, op=MPI.MAX), 1e-7))))
    times = {name: [] for name in names}
    for rep in range(repeat):
        spent = dict.fromkeys(names, 0.0)
        comm.Barrier()
        for i in range(rep, rep + inner):  # who goes first rotates over calls and repeats
            for name in names[i % len(names):] + names[:i % len(names)]:
                t0 = time.perf_counter()
                contenders[name]()
                spent[name] += time.perf_counter() - t0
        for name in names:
            times[name].append(comm.allreduce(spent[name], op=MPI.MAX) / inner)
    return times


def allreduce(spec):
    """float32 SUM all-reduce of each size: raw mpi4py on a NumPy array vs tc.distributed.all_reduce."""
    import tinygrad_chain as tc
    import tinygrad_chain.distributed as dist
    from mpi4py import MPI
    comm = dist.group.WORLD.comm  # the same communicator for both: a fair race
    rows = []
    for nbytes in spec["sizes"]:
        n = nbytes // 4
        raw = np.zeros(n, np.float32)  # zeros stay zeros: no inf from repeated sums
        contenders = {"mpi4py": lambda raw=raw: comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM)}
        for device in spec["devices"]:
            t = tc.zeros(n, device=device)
            contenders[f"tinygrad_chain:{device}"] = lambda t=t: dist.all_reduce(t)
        times = timed_blocks(comm, contenders, spec["repeat"], spec["min_time"])
        rows.append({"bytes": nbytes, **{k: _stats(v) for k, v in times.items()}})
    return rows


def ddp_mlp(spec):
    """One SGD step of the 784-512-512-10 MLP on a global batch split over the ranks, three ways."""
    import tinygrad_chain as tc
    import tinygrad_chain.distributed as dist
    from tinygrad_chain import nn
    from tinygrad_chain.nn.parallel import DistributedDataParallel as DDP
    rank, world = dist.get_rank(), dist.get_world_size()
    batch = spec["batch"] // world
    rng = np.random.default_rng(rank)
    x = tc.tensor(rng.standard_normal((batch, 784), dtype=np.float32), device=spec["device"])
    y = tc.tensor(rng.integers(0, 10, batch), device=spec["device"])
    loss_fn = nn.CrossEntropyLoss()

    def mlp():
        tc.manual_seed(0)
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10)).to(spec["device"])

    def stepper(net, after=None):
        opt = tc.optim.SGD(net.parameters(), lr=0.01)

        def step():
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            if after is not None:
                after()
            opt.step()
        return step

    plain = mlp()
    params = list(plain.parameters())
    flat = tc.zeros(sum(p.numel() for p in params), device=spec["device"])

    def allreduce_after_backward():  # the naive way: one all-reduce once backward is over
        views, off = [], 0
        for p in params:
            views.append(flat._data[off:off + p.numel()])
            views[-1][...] = p.grad._data.reshape(-1)
            off += p.numel()
        dist.all_reduce(flat, op=dist.ReduceOp.AVG)
        for p, v in zip(params, views):
            p.grad._data[...] = v.reshape(p.shape)

    contenders = {"no communication": stepper(mlp()),
                  "all-reduce after backward": stepper(plain, allreduce_after_backward),
                  "DDP, buckets of 25 MB (one bucket)": stepper(DDP(mlp())),
                  "DDP, buckets of 1 MB (overlapping backward)": stepper(DDP(mlp(), bucket_cap_mb=1))}
    times = timed_blocks(dist.group.WORLD.comm, contenders, spec["repeat"], spec["min_time"])
    return [{"mode": k, "ranks": world, "per_rank_batch": batch, **_stats(v)} for k, v in times.items()]


def _stats(times):
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times}


def main(workload, spec):
    import tinygrad_chain as tc
    import tinygrad_chain.distributed as dist
    spec = json.loads(spec)
    tc.set_num_threads(spec["threads"])
    dist.init_process_group("mpi")
    rows = {"allreduce": allreduce, "ddp_mlp": ddp_mlp}[workload](spec)
    if dist.get_rank() == 0:
        print(TAG + json.dumps({"workload": workload, "ranks": dist.get_world_size(), "rows": rows}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
