"""Failing fast instead of hanging: a rank that raises aborts the job, a wait past the group's
timeout aborts it, and in debug mode collectives first compare shapes across the ranks.

MPI has no way to cancel a collective that another rank will never join, so the only bounded
answer to a dead or diverged rank is MPI_Abort, which mpirun turns into the end of every rank.
"""
import os
import sys
import time
import traceback

_previous_hook = None
_abort = None  # callable(code) that ends the whole job


def install(rank, size, abort):
    """Uncaught exceptions print "[rank r]" with the traceback, then abort every rank."""
    global _previous_hook, _abort
    _abort = abort
    if _previous_hook is not None:
        return

    def hook(kind, value, tb):
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write("".join(f"[rank {rank}] {line}\n" for line in text.rstrip().splitlines()))
        sys.stderr.write(f"[rank {rank}] tc.distributed: uncaught {kind.__name__} on rank {rank} of {size}; "
                         f"aborting the job (MPI_Abort) so the other ranks do not wait for it forever\n")
        sys.stderr.flush()
        sys.stdout.flush()
        _abort(1)

    _previous_hook, sys.excepthook = sys.excepthook, hook


def uninstall():
    global _previous_hook, _abort
    if _previous_hook is not None:
        sys.excepthook, _previous_hook = _previous_hook, None
    _abort = None


def seconds(timeout):
    """A timeout given as seconds or a datetime.timedelta, as seconds (None: wait forever)."""
    if timeout is None:
        return None
    return timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)


def wait_or_abort(transport, reqs, status, limit, what, rank):
    """Wait for `reqs`, polling; past `limit` seconds, say what hung and abort the job."""
    deadline = time.monotonic() + limit
    pause = 0.0
    while not transport.test(reqs, status):
        if time.monotonic() > deadline:
            sys.stderr.write(f"[rank {rank}] tc.distributed: {what} did not complete within {limit:g} s (the "
                             f"process group's timeout); aborting the job. Usual causes: a rank died, or skipped "
                             f"or reordered a collective.\n")
            sys.stderr.flush()
            if _abort is not None:
                _abort(1)
            raise TimeoutError(f"{what} timed out after {limit:g} s")
        time.sleep(pause)
        pause = min(pause * 2 or 1e-5, 1e-3)  # spin first (latency), then back off to 1 ms


LEVELS = ("OFF", "INFO", "DETAIL")
detail = False  # DETAIL: collectives compare shapes across ranks first (read at init_process_group, as torch)


def set_debug_level(level):
    """"OFF", "INFO" or "DETAIL" (torch's names; only DETAIL adds checks)."""
    global detail
    name = str(getattr(level, "name", level)).upper()
    if name not in LEVELS:
        raise ValueError(f"set_debug_level: expected one of {LEVELS}, got {level!r}")
    detail = name == "DETAIL"


def set_debug_level_from_env():
    """TINYGRAD_CHAIN_DISTRIBUTED_DEBUG, or torch's TORCH_DISTRIBUTED_DEBUG; OFF when neither is set."""
    set_debug_level(os.environ.get("TINYGRAD_CHAIN_DISTRIBUTED_DEBUG") or os.environ.get("TORCH_DISTRIBUTED_DEBUG")
                    or "OFF")


def get_debug_level():
    return "DETAIL" if detail else "OFF"


def check_same(group, what, shape, dtype, root=None):
    """Debug mode: every rank of `group` must be in the same collective with the same shape and
    dtype; otherwise every rank raises an error that lists what each one passed."""
    mine = (what, tuple(shape), dtype.name, root)
    everyone = group.comm.allgather(mine)  # a few small tuples, pickled: metadata only
    if all(x == mine for x in everyone):
        return
    lines = "; ".join(f"rank {group.ranks[i]}: {w} shape {list(s)} {d}" + ("" if r is None else f" root {r}")
                      for i, (w, s, d, r) in enumerate(everyone))
    raise RuntimeError(f"{what}: the ranks disagree on the collective or its tensors ({lines})")
