"""dtypes and the one dtype policy: which dtype an op's result has.

The rule follows torch: float32 is the default float; a Python float never
promotes a float32 tensor to float64; integer or bool tensors meeting a Python
float (or an op that only makes sense on floats) become the default float.
float16 and bfloat16 meet each other in float32. What half precision computes
in (float32, rounded once) is the backends' rule: backends/half.py.
"""
import builtins as _py
import math as _math

import numpy as _numpy


class DType:
    __slots__ = ("name", "itemsize", "is_floating_point", "is_signed")

    def __init__(self, name, itemsize, is_floating_point, is_signed=True):
        self.name = name
        self.itemsize = itemsize
        self.is_floating_point = is_floating_point
        self.is_signed = is_signed

    def __repr__(self):
        return f"tinygrad_chain.{self.name}"

    def __reduce__(self):  # dtypes are singletons
        return (get, (self.name,))


float16 = DType("float16", 2, True)
bfloat16 = DType("bfloat16", 2, True)
float32 = DType("float32", 4, True)
float64 = DType("float64", 8, True)
uint8 = DType("uint8", 1, False, is_signed=False)
int8 = DType("int8", 1, False)
int16 = DType("int16", 2, False)
int32 = DType("int32", 4, False)
int64 = DType("int64", 8, False)
bool_ = DType("bool", 1, False, is_signed=False)
float = float32  # torch's aliases  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

ALL = (float16, bfloat16, float32, float64, uint8, int8, int16, int32, int64, bool_)
HALF = (float16, bfloat16)  # stored in 2 bytes, computed in float32 (backends/half.py)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(float=float32, double=float64, half=float16, long=int64, int=int32, short=int16, bool_=bool_)

_default_float = float32


def get(name):
    """The DType named `name` (also accepts a DType or a NumPy-like dtype)."""
    if isinstance(name, DType):
        return name
    key = getattr(name, "name", None) or (name.__name__ if isinstance(name, _py.type) else _py.str(name))
    try:
        return _BY_NAME[key]
    except KeyError:
        raise TypeError(f"unsupported dtype {name!r}; supported: "
                        f"{', '.join(d.name for d in ALL)}") from None


def get_default_dtype():
    return _default_float


def set_default_dtype(dtype):
    global _default_float
    dtype = get(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating dtypes can be the default, got {dtype.name}")
    _default_float = dtype


# Ranks for promotion between tensors: bool < integers < float16, bfloat16 < float32 < float64;
# among integers the smallest that holds both ranges: uint8 with int8 is int16 (torch).
_RANK = {bool_: 0, uint8: 1, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, bfloat16: 5, float32: 6, float64: 7}


def promote_types(a, b):
    if _RANK[a] == _RANK[b] and a is not b:  # float16 with bfloat16: neither holds the other (torch)
        return float32 if a.is_floating_point else int16  # uint8 with int8: neither holds the other
    return a if _RANK[a] >= _RANK[b] else b


def accumulated(dtype):
    """The dtype sum, prod and cumsum give (torch): integers and bool accumulate in int64."""
    return dtype if dtype.is_floating_point else int64


def zero_dim_joins(dim_dtype, zero_dtype):
    """torch's category rule: does a 0-d tensor meeting a tensor with dimensions compute at the
    latter's dtype? Yes unless it is of a higher kind (bool < integer < floating): float32 times a
    float64 0-d tensor is float32, int32 plus an int64 0-d tensor int32, int32 times float64 float64."""
    def kind(d):
        return 2 if d.is_floating_point else 0 if d is bool_ else 1
    return kind(zero_dtype) <= kind(dim_dtype)


def result_type(tensor_dtypes, scalars=(), float_only=False):
    """Result dtype of an op on tensors of `tensor_dtypes` and Python `scalars`.

    Python scalars only matter when they are of a higher kind than every
    tensor (a float scalar with integer tensors gives the default float).
    """
    if tensor_dtypes:
        out = tensor_dtypes[0]
        for d in tensor_dtypes[1:]:
            out = promote_types(out, d)
    else:
        out = None
    for s in scalars:
        if isinstance(s, _py.float):
            kind = _default_float
        elif isinstance(s, _py.bool):
            kind = bool_
        else:
            kind = int64
        if out is None:
            out = kind
        elif kind.is_floating_point and not out.is_floating_point:
            out = kind
        elif kind is int64 and out is bool_:
            out = int64
    if float_only and not out.is_floating_point:
        out = _default_float
    return out


def numpy_dtype(dtype):
    """The NumPy dtype that stores `dtype` (CuPy uses NumPy's dtypes too). bfloat16 comes from
    ml_dtypes, imported here on first use: its import takes half a second."""
    dtype = get(dtype)
    if dtype is bfloat16:
        import ml_dtypes
        return _numpy.dtype(ml_dtypes.bfloat16)
    return _numpy.dtype(dtype.name)


# ---- finfo: the parameters of each binary floating-point format ---------------------------------
# (significand bits including the implicit one, largest exponent); every figure follows from them
_FORMATS = {float16: (11, 15), bfloat16: (8, 127), float32: (24, 127), float64: (53, 1023)}


class finfo:  # noqa: N801  (torch's name)
    """The limits of a floating dtype (the default dtype when none is given), with torch.finfo's fields."""
    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=None):  # noqa: A002  (torch's argument name)
        d = get_default_dtype() if type is None else get(type)
        if d not in _FORMATS:
            raise TypeError(f"finfo() requires a floating point input type, got {d.name}")
        digits, emax = _FORMATS[d]
        self.bits = d.itemsize * 8
        self.eps = _math.ldexp(1.0, 1 - digits)
        self.max = _math.ldexp(2.0 - self.eps, emax)
        self.min = -self.max
        self.tiny = self.smallest_normal = _math.ldexp(1.0, 1 - emax)
        self.resolution = 10.0 ** -_math.floor(-_math.log10(self.eps))
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")
