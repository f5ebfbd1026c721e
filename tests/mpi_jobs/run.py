"""Entry point of the mpirun jobs: python tests/mpi_jobs/run.py SUITE OUT [timeout seconds]."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for mpi_jobs

import tinygrad_chain as tc  # noqa: E402
import tinygrad_chain.distributed as dist  # noqa: E402
from mpi_jobs import collectives, common, ddp, faults  # noqa: E402

SUITES = {"collectives": collectives.run, "ddp": ddp.run, "rank_raises": faults.rank_raises,
          "rank_skips": faults.rank_skips}


def main(suite, out, timeout=None):
    tc.set_num_threads(1)  # ranks share the cores
    dist.init_process_group("mpi", timeout=None if timeout is None else float(timeout))
    rank, n = dist.get_rank(), dist.get_world_size()
    start = time.perf_counter()
    SUITES[suite](rank, n)
    common.results["_seconds"] = round(time.perf_counter() - start, 2)
    common.save(out, rank)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
