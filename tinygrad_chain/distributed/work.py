"""Work: the handle an async_op collective returns (torch's), and the one place results land.

The transport fills the buffers; `finish` then does what must wait for the data (AVG's
division, copies back into non-contiguous or listed tensors, version counters) exactly once,
at wait() or at the first is_completed() that finds the requests done.
"""
from . import faults


def describe(t):
    return "" if t is None else f"tensor {list(t.shape)} {t.dtype.name}"


class Work:
    def __init__(self, group, what, reqs, finish=None, status=None, about=None):
        self._group, self._what, self._about = group, what, about  # about: the tensor, named in errors
        self._reqs = [r for r in reqs if r is not None]
        self._finish, self._status = finish, status
        self._result = None
        self._done = False

    def is_completed(self):
        if not self._done and (not self._reqs or self._group.transport.test(self._reqs, self._status)):
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Block until the collective is done and its tensors hold the result. A timeout (seconds
        or timedelta; default the group's) that passes aborts the job: MPI can't cancel the op."""
        if self._done:
            return True
        if self._reqs:
            limit = faults.seconds(timeout) if timeout is not None else self._group.timeout
            t = self._group.transport
            try:
                if limit is None:
                    t.wait(self._reqs, self._status)
                else:
                    faults.wait_or_abort(t, self._reqs, self._status, limit, self._what, self._group.rank())
            except t.errors as e:  # e.g. MPI's truncation error: a message longer than the tensor
                raise RuntimeError(f"{self._what}: {e} (rank {self._group.rank()}, {describe(self._about)})") from e
        self._complete()
        return True

    def _complete(self):
        self._done, self._reqs = True, []
        if self._finish is not None:
            finish, self._finish = self._finish, None
            self._result = finish()

    def is_success(self):
        return self._done

    def exception(self):
        return None

    def result(self):
        """The output tensors (after waiting), as torch's Work.result()."""
        self.wait()
        return list(self._result or [])

    def __repr__(self):
        return f"<Work {self._what} {'done' if self._done else 'pending'}>"
