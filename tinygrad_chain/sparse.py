"""Sparse tensors are out of scope: every entry point says so, naming itself.

tinygrad_chain's tensors are dense arrays; torch.sparse's formats (COO, CSR, ...) and their
kernels have no counterpart here. A graph network's adjacency matrix works as a dense tensor
(`adj @ x` where torch writes torch.sparse.mm(adj, x)).
"""


class SparseNotSupportedError(NotImplementedError):
    pass


def not_supported(what):
    return SparseNotSupportedError(f"{what}: sparse tensors are not supported by tinygrad_chain (out of scope: its "
                                   f"tensors are dense). Use a dense tensor instead (e.g. a @ b for "
                                   f"torch.sparse.mm(a, b)).")


def _refusing(name):
    def refuse(*args, **kwargs):
        raise not_supported(name)
    refuse.__name__ = name.rpartition(".")[2]
    refuse.__doc__ = f"Not supported: {name} needs sparse tensors, which tinygrad_chain does not have."
    return refuse


mm = _refusing("tc.sparse.mm")
addmm = _refusing("tc.sparse.addmm")
sum = _refusing("tc.sparse.sum")  # noqa: A001  (torch's name)
softmax = _refusing("tc.sparse.softmax")
log_softmax = _refusing("tc.sparse.log_softmax")
sparse_coo_tensor = _refusing("tc.sparse_coo_tensor")
sparse_csr_tensor = _refusing("tc.sparse_csr_tensor")
spmm = _refusing("tc.spmm")
