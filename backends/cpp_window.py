"""The cpp device's convolution and pooling windows: im2col/col2im and the
pooling kernels of csrc/conv_window.cpp and pool.cpp, in place of NumPy's strided views and
the Python loop over kernel taps. A mixin of CppBackend; anything that is
not a float32/float64 array falls back to the NumPy implementation.

Conventions are compositions.py's: images NCHW; conv padding (top, bottom, left,
right), pooling padding (h, w). The kernels take the top/left padding and
the output size, which together imply the bottom/right padding.
"""
import numpy as np

from tinygrad_chain import _C

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _image(x):
    return type(x) is np.ndarray and x.dtype in _FLOATS and x.ndim == 4


def _out_size(n, k, s, lo, hi, d):
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def _divisor_plane(divisor, out_hw, dtype):
    """avg pooling's divisor (a number or an (OH, OW) array) as a contiguous (OH, OW) array."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(divisor, dtype), tuple(out_hw)))


class CppWindowMixin:
    # ---- the (O, N, P) <-> NCHW layouts around conv's matmuls (compositions.py) ----
    def _to_nchw(self, out, bias):
        rows = out.transpose(1, 0, 2, 3)  # the matmul's (O, N, OH, OW) result, contiguous
        bias_ok = bias is None or (type(bias) is np.ndarray and bias.dtype == out.dtype)
        if not (_image(out) and rows.flags.c_contiguous and bias_ok):
            return super()._to_nchw(out, bias)
        o, n, oh, ow = rows.shape
        b = None if bias is None else np.ascontiguousarray(bias)
        return _C.swap_leading_axes(rows.reshape(o, n, oh * ow), b).reshape(n, o, oh, ow)

    def _grad_rows(self, g):
        if not _image(g):
            return super()._grad_rows(g)
        n, o, oh, ow = g.shape
        return _C.swap_leading_axes(np.ascontiguousarray(g).reshape(n, o, oh * ow)).reshape(o, n * oh * ow)

    # ---- windows -------------------------------------------------------------
    def im2col(self, x, kh, kw, stride, padding, dilation):
        if not _image(x):
            return super().im2col(x, kh, kw, stride, padding, dilation)
        pt, pb, pl, pr = padding
        out_hw = (_out_size(x.shape[2], kh, stride[0], pt, pb, dilation[0]),
                  _out_size(x.shape[3], kw, stride[1], pl, pr, dilation[1]))
        return _C.im2col(np.ascontiguousarray(x), (kh, kw), tuple(stride), (pt, pl), tuple(dilation), out_hw)

    def col2im(self, cols, x_shape, kh, kw, stride, padding, dilation):
        if not (type(cols) is np.ndarray and cols.dtype in _FLOATS and cols.ndim == 6):
            return super().col2im(cols, x_shape, kh, kw, stride, padding, dilation)
        return _C.col2im(np.ascontiguousarray(cols), x_shape[2], x_shape[3], tuple(stride),
                         (padding[0], padding[2]), tuple(dilation))

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_hw):
        if not _image(x):
            return super().max_pool2d(x, kernel, stride, padding, dilation, out_hw)
        return tuple(_C.max_pool2d(np.ascontiguousarray(x), tuple(kernel), tuple(stride), tuple(padding),
                                   tuple(dilation), tuple(out_hw)))

    def max_pool2d_backward(self, g, indices, x_shape, overlapping=True):
        if not (_image(g) and type(indices) is np.ndarray and indices.shape == g.shape):
            return super().max_pool2d_backward(g, indices, x_shape, overlapping)
        return _C.max_pool2d_backward(np.ascontiguousarray(g), np.ascontiguousarray(indices, dtype=np.int64),
                                      x_shape[2], x_shape[3])

    def avg_pool2d(self, x, kernel, stride, padding, out_hw, divisor):
        if not _image(x):
            return super().avg_pool2d(x, kernel, stride, padding, out_hw, divisor)
        return _C.avg_pool2d(np.ascontiguousarray(x), tuple(kernel), tuple(stride), tuple(padding), tuple(out_hw),
                             _divisor_plane(divisor, out_hw, x.dtype))

    def avg_pool2d_backward(self, g, x_shape, kernel, stride, padding, divisor):
        if not _image(g):
            return super().avg_pool2d_backward(g, x_shape, kernel, stride, padding, divisor)
        return _C.avg_pool2d_backward(np.ascontiguousarray(g), x_shape[2], x_shape[3], tuple(kernel), tuple(stride),
                                      tuple(padding), _divisor_plane(divisor, g.shape[2:], g.dtype))
