"""tc.linalg: torch.linalg's names, arguments and errors, batched over leading dimensions.

Every function differentiates, twice as well (the VJPs are recorded Tensor ops); the
factorizations run on the device's array library (numpy.linalg, cupy.linalg).
"""
from tinygrad_chain.ops.linalg_solve import LinAlgError

from .cross import cross
from .decompositions import cholesky, eigh, eigvalsh, qr, svd, svdvals
from .norms import matrix_norm, norm, vector_norm
from .solvers import det, inv, lstsq, pinv, slogdet, solve

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq", "matrix_norm", "norm",
           "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm"]
