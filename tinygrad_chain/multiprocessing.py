"""tc.multiprocessing: Python's multiprocessing under torch's name, and torch's spawn().

Tensors cross processes by pickling, which copies their values (torch moves CPU tensors into
shared memory instead; nothing here is shared, so a write in one process is not seen in another).
"""
import multiprocessing
import multiprocessing.connection
import traceback
from multiprocessing import *  # noqa: F401,F403  (Process, Queue, get_context, set_start_method, ...)


class ProcessException(Exception):
    def __init__(self, msg, error_index, pid):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised: the message carries its traceback."""


class ProcessExitedException(ProcessException):
    """A spawned process ended with a nonzero exit code or a signal."""

    def __init__(self, msg, error_index, pid, exit_code):
        super().__init__(msg, error_index, pid)
        self.exit_code = exit_code

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code)


def _run(fn, i, args, errors):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        errors.put((i, traceback.format_exc()))
        raise SystemExit(1)


class ProcessContext:
    def __init__(self, processes, errors):
        self.processes, self._errors = processes, errors

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None):
        """True once every process ended well; False if some still run after `timeout` seconds. When one
        fails the others are terminated and its error is raised here."""
        running = {p.sentinel: i for i, p in enumerate(self.processes) if p.exitcode is None}
        while running:
            ready = multiprocessing.connection.wait(list(running), timeout)
            if not ready:
                return False
            for sentinel in ready:
                i = running.pop(sentinel)
                p = self.processes[i]
                p.join()
                if p.exitcode != 0:
                    self._fail(i, p)
        return True

    def _fail(self, i, p):
        for other in self.processes:
            if other.is_alive():
                other.terminate()
            other.join()
        if not self._errors.empty():
            index, text = self._errors.get()
            raise ProcessRaisedException(f"\n\n-- Process {index} terminated with the following error:\n{text}",
                                         index, self.processes[index].pid)
        how = f"signal {-p.exitcode}" if p.exitcode < 0 else f"exit code {p.exitcode}"
        raise ProcessExitedException(f"process {i} terminated with {how}", i, p.pid, p.exitcode)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    ctx = multiprocessing.get_context(start_method)
    errors = ctx.SimpleQueue()
    processes = []
    for i in range(nprocs):
        p = ctx.Process(target=_run, args=(fn, i, args, errors), daemon=daemon)
        p.start()
        processes.append(p)
    context = ProcessContext(processes, errors)
    if not join:
        return context
    while not context.join():
        pass


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run fn(i, *args) in nprocs new processes, i = 0 .. nprocs - 1 (torch.multiprocessing.spawn)."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
