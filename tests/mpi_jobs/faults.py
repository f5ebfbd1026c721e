"""Jobs that must fail, fast: the pytest side checks the exit code, the time and the output."""
import time

import tinygrad_chain as tc
import tinygrad_chain.distributed as dist


def rank_raises(rank, n):
    """The last rank raises while the others wait in an all_reduce it will never join."""
    if rank == n - 1:
        raise ValueError(f"boom on purpose from rank {rank}")
    dist.all_reduce(tc.ones(4))


def rank_skips(rank, n):
    """The last rank skips a collective (and idles); the others' wait passes the group's timeout."""
    if rank == n - 1:
        time.sleep(120)
    else:
        dist.all_reduce(tc.ones(4))
