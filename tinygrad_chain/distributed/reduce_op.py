"""ReduceOp: how all_reduce, reduce and reduce_scatter_tensor combine the ranks' values (torch's names)."""
import enum


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"          # SUM, then divided by the group's size (integers: truncated toward zero, as NCCL)
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"        # bitwise: integer tensors only
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"


def check(op, dtype, who):
    """`op` as a ReduceOp, refused here (not by the transport) when it can't apply to `dtype`."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{who}: op must be a tc.distributed.ReduceOp, got {op!r}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and (dtype.is_floating_point or dtype.name == "bool"):
        raise RuntimeError(f"{who}: ReduceOp.{op.name} needs an integer tensor, got {dtype.name}")
    return op


def finish_avg(xp, buf, size):
    """Turn the SUM the transport made in `buf` into the mean, in place."""
    if buf.dtype.kind == "f":
        xp.divide(buf, size, out=buf)
    else:  # integer mean rounds toward zero, as C's (and NCCL's) integer division
        q = xp.abs(buf) // size
        xp.multiply(xp.sign(buf), q, out=buf)
