"""The NCCL transport: collectives on cupy arrays through cupy.cuda.nccl, one rank per GPU.

Everything above the buffers is shared with MPI: the group's MPI communicator carries the
rendezvous (rank 0's NCCL unique id is broadcast over it), objects and barriers. Each op
runs on this transport's own stream, ordered after the work already queued on the current
stream; its request is a CUDA event, and wait() blocks the host until it has fired.
"""
from .reduce_op import ReduceOp


class NcclTransport:
    name = "nccl"
    device_type = "cuda"

    def __init__(self, comm):
        import cupy
        from cupy.cuda import nccl
        self.cupy, self.nccl = cupy, nccl
        self.errors = (nccl.NcclError,)
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        uid = comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
                     ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}
        self._types = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64, "int64": nccl.NCCL_INT64,
                       "int32": nccl.NCCL_INT32, "bool": nccl.NCCL_UINT8}

    def _op(self, op):
        if op not in self._ops:
            raise RuntimeError(f"the nccl backend has no ReduceOp.{op.name}")
        return self._ops[op]

    def _launch(self, blocking, fn):
        """Run fn(stream pointer) on our stream after the current stream's queued work."""
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())
        fn(self.stream.ptr)
        done = self.stream.record()
        if blocking:
            done.synchronize()
            return None
        return done

    def _t(self, a):
        return self._types[a.dtype.name]

    def allreduce(self, buf, op, blocking):
        p = buf.data.ptr
        return self._launch(blocking, lambda s: self.comm.allReduce(p, p, buf.size, self._t(buf), self._op(op), s))

    def broadcast(self, buf, root, blocking):
        return self._launch(blocking, lambda s: self.comm.bcast(buf.data.ptr, buf.size, self._t(buf), root, s))

    def reduce(self, buf, op, root, blocking):
        p = buf.data.ptr
        return self._launch(blocking, lambda s: self.comm.reduce(p, p, buf.size, self._t(buf), self._op(op), root, s))

    def allgather(self, send, recv, blocking):
        return self._launch(blocking, lambda s: self.comm.allGather(send.data.ptr, recv.data.ptr, send.size,
                                                                   self._t(send), s))

    def reduce_scatter(self, send, recv, op, blocking):
        return self._launch(blocking, lambda s: self.comm.reduceScatter(send.data.ptr, recv.data.ptr, recv.size,
                                                                       self._t(recv), self._op(op), s))

    def _exchange(self, root, rows, mine, into_root, s):
        """gather (into_root) or scatter as grouped point-to-point calls: NCCL has neither."""
        n, t = mine.size, self._t(mine)
        self.nccl.groupStart()
        if self.rank == root:
            for r in range(self.size):
                if r == root:
                    continue
                if into_root:
                    self.comm.recv(rows[r].data.ptr, n, t, r, s)
                else:
                    self.comm.send(rows[r].data.ptr, n, t, r, s)
        elif into_root:
            self.comm.send(mine.data.ptr, n, t, root, s)
        else:
            self.comm.recv(mine.data.ptr, n, t, root, s)
        self.nccl.groupEnd()
        if self.rank == root:  # the root's own row, on the same stream
            dst, src = (rows[root], mine) if into_root else (mine, rows[root])
            self.cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes,
                                               self.cupy.cuda.runtime.memcpyDeviceToDevice, s)

    def gather(self, send, recv, root, blocking):
        return self._launch(blocking, lambda s: self._exchange(root, recv, send, True, s))

    def scatter(self, send, recv, root, blocking):
        return self._launch(blocking, lambda s: self._exchange(root, send, recv, False, s))

    def send(self, buf, peer, tag, blocking):
        return self._launch(blocking, lambda s: self.comm.send(buf.data.ptr, buf.size, self._t(buf), peer, s))

    def recv(self, buf, peer, tag, blocking, status):
        if peer is None:
            raise RuntimeError("the nccl backend needs recv(src=...): NCCL has no receive from any source")
        return self._launch(blocking, lambda s: self.comm.recv(buf.data.ptr, buf.size, self._t(buf), peer, s))

    def barrier(self, blocking):
        # always blocking: the one-element buffer must outlive the op
        self.allreduce(self.cupy.ones(1, self.cupy.float32), ReduceOp.SUM, True)

    # ---- requests are CUDA events
    def wait(self, reqs, status=None):
        for e in reqs:
            e.synchronize()

    def test(self, reqs, status=None):
        return all(e.done for e in reqs)

    def status(self):
        return None

    def close(self):
        self.stream.synchronize()
        self.comm.destroy()
