"""DataLoader worker processes (num_workers > 0), as torch's.

Each worker is a process of the loader's multiprocessing context (fork, spawn or forkserver) with
its own index queue; all answer on one result queue. The main process hands out batches of
indices round-robin, keeps prefetch_factor of them in flight per worker and yields the answers in
sampler order. A worker seeds Python's and tinygrad_chain's RNGs with base_seed + its id, runs one
kernel thread, and calls worker_init_fn(id). An exception in a worker comes back as the same
exception type carrying the worker's traceback; a worker that dies, or a result later than
`timeout`, raises in the main process instead of hanging it.
"""
import itertools
import multiprocessing
import os
import pickle
import queue
import random
import time
import traceback

from tinygrad_chain.creation import manual_seed
from tinygrad_chain.device import get_default_device, set_default_device
from tinygrad_chain.dtypes import get_default_dtype, set_default_dtype
from tinygrad_chain.generator import from_global_seed
from tinygrad_chain.threads import set_num_threads

_POLL = 1.0  # seconds between checks that the workers (or, in a worker, the main process) live
_info = None  # this process's WorkerInfo, in a worker


class WorkerInfo:
    """What get_worker_info() tells code running in a worker (torch's fields)."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, dataset={self.dataset!r})"


def get_worker_info():
    """The WorkerInfo of this DataLoader worker process; None in the main process."""
    return _info


class _Raised:
    """An exception raised in a worker, sent back with its traceback as text (tracebacks don't pickle)."""

    def __init__(self, exc, worker_id):
        kind = type(exc)
        try:
            pickle.loads(pickle.dumps(kind))
        except Exception:  # a class the main process cannot import
            kind = RuntimeError
        self.kind, self.worker_id = kind, worker_id
        self.text = "".join(traceback.format_exception(exc))

    def reraise(self):
        msg = (f"Caught {self.kind.__name__} in DataLoader worker process {self.worker_id}.\n"
               f"Original {self.text}")
        try:
            err = self.kind(msg)
        except Exception:  # an exception type whose constructor wants other arguments
            err = RuntimeError(msg)
        raise err


class _Exhausted:
    """A worker's answer once its copy of an IterableDataset has no more batches."""


_RESET = "reset"  # a new epoch for persistent workers: restart the IterableDataset's iterator


def _worker_loop(fetcher, index_q, result_q, worker_id, num_workers, seed, init_fn, parent, defaults):
    global _info
    set_num_threads(1)  # num_workers processes share the cores
    # the main process's default device and dtype, which a spawned worker would not have: its tensors
    # would land on another device than the main process's
    set_default_device(defaults[0])
    set_default_dtype(defaults[1])
    random.seed(seed)
    manual_seed(seed)
    _info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    failed = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher.restart()
    except Exception as e:  # reported for the first task, as torch does
        failed = _Raised(e, worker_id)
    while True:
        try:
            task = index_q.get(timeout=_POLL)
        except queue.Empty:
            if os.getppid() != parent:  # the main process died: nobody will ask for more
                break
            continue
        if task is None:
            break
        if task == _RESET:
            fetcher.restart()
            continue
        idx, indices = task
        if failed is not None:
            data, failed = failed, None
        else:
            try:
                data = fetcher.fetch(indices)
            except StopIteration:
                data = _Exhausted()
            except Exception as e:
                data = _Raised(e, worker_id)
        result_q.put((idx, data))
    result_q.cancel_join_thread()  # exit even if the main process stopped reading


def _base_seed(generator):
    """The workers' seeds' base: from the loader's generator, else from the global RNG (tc.manual_seed)."""
    return (generator if generator is not None else from_global_seed()).randranges(2 ** 62, 1)[0]


class WorkerIterator:
    """The iterator of a DataLoader with workers; persistent_workers keeps it (and them) between epochs."""

    def __init__(self, loader, fetcher):
        ctx = loader.multiprocessing_context
        ctx = multiprocessing.get_context(ctx) if ctx is None or isinstance(ctx, str) else ctx
        n = loader.num_workers
        self._timeout, self._prefetch = loader.timeout, loader.prefetch_factor * n
        self._persistent = loader.persistent_workers
        self._result_q = ctx.Queue()
        self._index_qs = [ctx.Queue() for _ in range(n)]
        self._new_epoch(loader)  # first, so that the sampler's order does not depend on num_workers
        seed = _base_seed(loader.generator)
        defaults = get_default_device(), get_default_dtype()
        self._workers, self._live = [], True  # shutdown() stops those started if a later start fails
        for i in range(n):
            w = ctx.Process(target=_worker_loop, daemon=True,
                            args=(fetcher, self._index_qs[i], self._result_q, i, n, seed + i, loader.worker_init_fn,
                                  os.getpid(), defaults))
            w.start()
            self._workers.append(w)
        self._fill()

    def _start(self, loader):
        """Another epoch on the same workers (persistent_workers)."""
        for _ in range(self._sent - self._received - len(self._answers)):  # a previous epoch's, unread
            self._next_answer()
        if loader._iterable:
            for q in self._index_qs:
                q.put(_RESET)
        self._new_epoch(loader)
        self._fill()

    def _new_epoch(self, loader):
        """This epoch's tasks (the sampler draws its order now), every worker active again."""
        if loader._iterable:
            self._tasks = itertools.repeat(None)
        else:
            tasks = iter(loader._index_source())
            first = next(tasks, StopIteration)
            self._tasks = iter(()) if first is StopIteration else itertools.chain([first], tasks)
        self._active = [True] * len(self._index_qs)
        self._turn = itertools.cycle(range(len(self._index_qs)))
        self._owner, self._answers = {}, {}
        self._sent = self._received = 0

    def _fill(self):
        for _ in range(self._prefetch):
            self._send()

    def _send(self):
        if not any(self._active):
            return
        task = next(self._tasks, StopIteration)
        if task is StopIteration:
            return
        w = next(i for i in self._turn if self._active[i])
        self._index_qs[w].put((self._sent, task))
        self._owner[self._sent] = w
        self._sent += 1

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            if self._received == self._sent:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            while self._received not in self._answers:
                idx, data = self._next_answer()
                self._answers[idx] = data
            data = self._answers.pop(self._received)
            worker = self._owner.pop(self._received)
            self._received += 1
            if isinstance(data, _Exhausted):
                self._active[worker] = False
                continue
            self._send()
            if isinstance(data, _Raised):
                data.reraise()
            return data

    def _next_answer(self):
        waited = 0.0
        while True:
            try:
                return self._result_q.get(timeout=_POLL if not self._timeout else min(_POLL, self._timeout))
            except queue.Empty:
                waited += _POLL if not self._timeout else min(_POLL, self._timeout)
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                self.shutdown()
                codes = ", ".join(f"pid {w.pid}: {_exit_reason(w.exitcode)}" for w in dead)
                raise RuntimeError(f"DataLoader worker ({codes}) exited unexpectedly")
            if self._timeout and waited >= self._timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def shutdown(self):
        if not self._live:
            return
        self._live = False
        for q in self._index_qs:
            q.put(None)
        deadline = time.monotonic() + 5
        for w in self._workers:
            w.join(max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                w.terminate()
                w.join()
        for q in self._index_qs + [self._result_q]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # at interpreter exit the modules may be gone
            pass


def _exit_reason(code):
    return f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
