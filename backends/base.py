"""The backend interface: the array operations every device provides.

A backend receives and returns its own native arrays (``numpy.ndarray`` for numpy and cpp,
``cupy.ndarray`` for cupy) and never sees a Tensor, the tape or grad mode: it records
nothing and decides nothing about differentiation. It does compute gradients' arithmetic
where a fused forward kernel has a fused backward (relu_backward, cross_entropy_backward,
conv2d_backward, lstm_layer_backward, ...): plain array functions that the VJPs declared in
``tinygrad_chain.ops`` call. Ops call these methods and nothing else.

The interface, grouped by kind:
- primitives (abstract, every backend implements them): creation and transfer, random,
  unary, binary, reductions, movement and indexing, linear algebra;
- optional primitives that raise NotImplementedError when a backend lacks them: DLPack,
  the window primitives (sliding_windows, window_sum), linalg factorizations and solvers,
  fused elementwise programs;
- optional kernels, listed at the end of Backend, with defaults composed from the
  primitives in backends/compositions.py; a fast backend overrides the ones it runs in
  one pass.
"""
import abc

from .compositions import Compositions
#: The instructions of a fused elementwise program (their formulas: backends/formulas.py)
from .formulas import INSTRUCTION_NAMES as FUSED_INSTRUCTIONS  # noqa: F401


class Backend(Compositions, abc.ABC):
    #: the device name ("numpy", "cpp", "cupy")
    name = None
    #: "cpu" or "cuda": torch's device type
    device_type = "cpu"

    # ---- creation and transfer ----------------------------------------
    @abc.abstractmethod
    def asarray(self, data, dtype=None):
        """A native array from nested lists, scalars, NumPy or native arrays."""

    @abc.abstractmethod
    def to_numpy(self, a):
        """A NumPy array with a's values (may share memory on CPU)."""

    @abc.abstractmethod
    def native_dtype(self, dtype):
        """The native dtype for a tinygrad_chain DType."""

    @abc.abstractmethod
    def dtype_of(self, a):
        """The tinygrad_chain DType of native array `a`."""

    @abc.abstractmethod
    def full(self, shape, value, dtype): ...

    @abc.abstractmethod
    def empty(self, shape, dtype): ...

    @abc.abstractmethod
    def arange(self, start, end, step, dtype): ...

    @abc.abstractmethod
    def linspace(self, start, end, steps, dtype): ...

    @abc.abstractmethod
    def eye(self, n, m, dtype): ...

    @abc.abstractmethod
    def astype(self, a, dtype):
        """`a` converted to `dtype` (a copy)."""

    @abc.abstractmethod
    def copy(self, a): ...

    @abc.abstractmethod
    def copy_into(self, dst, src):
        """Write src (broadcast) into dst, in place."""

    def writable(self, a):
        """`a`, which the caller is about to write in place itself (a transport, an
        optimizer's kernel). A backend that reads arrays lazily computes first what reads it."""
        return a

    def view_positions(self, base, view):
        """For each element of `view`, the C-order flat index of the element of `base` in the same
        memory (an int64 array of view's shape); None when view's memory is not all inside base's
        (a copy). In-place writes into a view rewrite its base's graph with it (tensor_inplace.py)."""
        return None

    def shared(self, a):
        """`a`, whose memory the caller hands to code outside the library (Tensor.numpy()),
        which may write it at any time. A backend that reads arrays lazily never reads it so."""
        return a

    def from_numpy(self, array):
        """A CPU backend's array sharing `array`'s memory, which code outside the library
        keeps and may write at any time (torch.from_numpy)."""
        return array

    def synchronize(self):
        """Wait for queued work (a no-op on synchronous devices)."""

    #: the native dtypes of float16 and bfloat16 in use: backends/half.py computes them in float32
    half_natives = frozenset()
    #: what an op's result may come back as in place of a 0-d array (NumPy answers 0-d operands
    #: with its scalars): the dispatcher makes it an array with asarray
    scalar_type = ()

    # ---- DLPack: memory shared with other libraries (not abstract: a backend may have none) ----
    def to_dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of `a`'s memory (the array API's __dlpack__ arguments)."""
        raise NotImplementedError(f"device {self.name!r} does not export DLPack")

    def dlpack_device(self, a):
        """(DLPack device type, device index) of `a`'s memory."""
        raise NotImplementedError(f"device {self.name!r} does not export DLPack")

    def from_dlpack(self, obj):
        """A native array sharing the memory of `obj` (an object with __dlpack__, or a capsule)."""
        raise NotImplementedError(f"device {self.name!r} does not import DLPack")

    # ---- random --------------------------------------------------------
    # Each draw takes `rng`: None draws from the backend's global RNG (manual_seed),
    # else an RNG from make_rng (a tc.Generator seeds one per call).
    @abc.abstractmethod
    def manual_seed(self, seed): ...

    @abc.abstractmethod
    def make_rng(self, seed):
        """A fresh native RNG seeded with `seed`, for the draws' `rng` argument."""

    @abc.abstractmethod
    def rand(self, shape, dtype, rng=None): ...

    @abc.abstractmethod
    def randn(self, shape, dtype, rng=None): ...

    @abc.abstractmethod
    def randint(self, low, high, shape, dtype, rng=None): ...

    @abc.abstractmethod
    def permutation(self, n, rng=None): ...

    @abc.abstractmethod
    def multinomial(self, weights, num_samples, replacement, rng=None):
        """int64 (rows, num_samples) category indices drawn from each row of the
        non-negative 2-D `weights` (rows already checked: finite, some weight > 0)."""

    # ---- elementwise: unary ------------------------------------------------
    # neg abs exp log log1p expm1 sqrt sin cos tan tanh sign reciprocal floor
    # ceil round erf logical_not bitwise_not isnan isinf: each f(a) -> array
    @abc.abstractmethod
    def unary(self, name, a):
        """Apply the elementwise function `name` to `a`."""

    # ---- elementwise: binary ------------------------------------------
    # add sub mul div floordiv remainder pow maximum minimum eq ne lt le gt
    # ge logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor (integer and bool
    # arrays): each f(a, b) -> array, with
    # NumPy broadcasting; a or b may be a Python scalar
    @abc.abstractmethod
    def binary(self, name, a, b):
        """Apply the elementwise function `name` to `a` and `b`."""

    @abc.abstractmethod
    def where(self, cond, a, b): ...

    @abc.abstractmethod
    def clip(self, a, lo, hi): ...

    # ---- reductions ----------------------------------------------------
    # axis is None or a tuple of non-negative ints
    @abc.abstractmethod
    def reduce(self, name, a, axis, keepdims):
        """`name` in sum, prod, max, min, mean over `axis`."""

    @abc.abstractmethod
    def arg_reduce(self, name, a, axis, keepdims):
        """`name` in argmax, argmin over one int axis (or None: flattened)."""

    @abc.abstractmethod
    def cumsum(self, a, axis): ...

    @abc.abstractmethod
    def argsort(self, a, axis, descending):
        """int64 indices that sort `a` along int `axis` (a has >= 1 dim); stable (ties keep
        their order, in both directions) and NaN sorts as the largest value, as torch."""

    # ---- movement and indexing ---------------------------------------------
    @abc.abstractmethod
    def reshape(self, a, shape): ...

    @abc.abstractmethod
    def transpose(self, a, perm): ...

    @abc.abstractmethod
    def broadcast_to(self, a, shape): ...

    @abc.abstractmethod
    def concatenate(self, arrays, axis): ...

    @abc.abstractmethod
    def flip(self, a, axis): ...

    @abc.abstractmethod
    def tile(self, a, reps): ...

    @abc.abstractmethod
    def pad(self, a, widths, value):
        """Constant padding; widths is a tuple of (before, after) per axis."""

    @abc.abstractmethod
    def getitem(self, a, index): ...

    @abc.abstractmethod
    def setitem(self, a, index, value):
        """a[index] = value, in place."""

    @abc.abstractmethod
    def index_add(self, a, index, values):
        """a[index] += values, in place, accumulating repeated indices."""

    @abc.abstractmethod
    def take_along_axis(self, a, indices, axis): ...

    @abc.abstractmethod
    def scatter_add_along_axis(self, shape, indices, values, axis):
        """zeros(shape) with values added at indices along axis (gather's VJP)."""

    @abc.abstractmethod
    def is_view(self, a):
        """True when a does not own its memory."""

    # The window primitives of convolution and pooling (images NCHW; `padding` (top, bottom, left,
    # right); kernel, stride, dilation (h, w) pairs): abstract in spirit, they need strides.
    def sliding_windows(self, x, kernel, stride, padding, dilation, value=0):
        """(N, C, OH, OW, kh, kw) windows of x padded with `value` (may be a read-only view)."""
        raise NotImplementedError(f"{type(self).__name__} has no sliding_windows")

    def window_sum(self, w, x_shape, kernel, stride, padding, dilation):
        """The adjoint of sliding_windows: (N, C, OH, OW, kh, kw) summed back into zeros(x_shape)."""
        raise NotImplementedError(f"{type(self).__name__} has no window_sum")

    def uniform_value(self, a):
        """The value of a broadcast scalar (every stride 0, as the gradient of a sum), else None.
        Only a backend that can read it without a device round trip says."""
        return None

    # ---- linear algebra ------------------------------------------------
    @abc.abstractmethod
    def matmul(self, a, b):
        """NumPy's matmul for operands of 2 or more dimensions."""

    @abc.abstractmethod
    def einsum(self, equation, *arrays): ...

    # ---- linear algebra: factorizations and solvers (tc.linalg) ---------------
    # Each works on the last two axes of a stack of matrices (..., m, n) and returns
    # what NumPy's and CuPy's linalg return (LAPACK's conventions). A singular or
    # non-positive-definite input raises numpy.linalg.LinAlgError where the library
    # detects it (CuPy may return inf/nan instead). Not abstract: a backend without
    # them still runs everything else.
    def inv(self, a):
        raise NotImplementedError(f"device {self.name!r} has no linalg.inv")

    def solve(self, a, b):
        """x with a @ x = b for a (..., n, n) and b (..., n, k); the batch axes broadcast."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.solve")

    def det(self, a):
        raise NotImplementedError(f"device {self.name!r} has no linalg.det")

    def slogdet(self, a):
        """(sign, log |det|), each of the batch shape."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.slogdet")

    def cholesky(self, a):
        """The lower factor l with a = l l^T, read from a's lower triangle."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.cholesky")

    def qr(self, a, mode):
        """(q, r) for mode "reduced" or "complete"."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.qr")

    def svd(self, a, full_matrices, compute_uv=True):
        """(u, s, vh) with s descending; s alone when not compute_uv."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.svd")

    def eigh(self, a, uplo):
        """(eigenvalues ascending, eigenvectors as columns) of the symmetric matrix whose
        uplo ("L" or "U") triangle a holds."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.eigh")

    def cross(self, a, b, axis):
        """The cross product of 3-vectors along `axis` (the other axes broadcast)."""
        raise NotImplementedError(f"device {self.name!r} has no linalg.cross")

    # ---- optional kernels (defaults in backends/compositions.py) ---------------------------------
    # Inherited from Compositions, each composed from the primitives above; a fast backend
    # overrides those it runs in one pass. Backward kernels take the upstream gradient g.
    #   shapes and products: sum_to_shape, mul_backward, linear
    #   activations: sigmoid, relu, gelu, silu, leaky_relu, softplus (each with *_backward), tanh_backward
    #   softmax family: softmax, log_softmax (each with *_backward), logsumexp, vector_norm
    #   normalization: layer_norm, layer_norm_backward
    #   losses: cross_entropy, cross_entropy_backward
    #   optimizer steps (in place): update_step (any formulas.UPDATES row), sgd_step, adam_step
    #   recurrent: lstm_cell, lstm_layer (each with *_backward)
    #   convolution and pooling: im2col, col2im, conv2d, conv2d_input_grad, conv2d_weight_grad,
    #     conv2d_backward, max_pool2d, avg_pool2d (each pool with *_backward)
