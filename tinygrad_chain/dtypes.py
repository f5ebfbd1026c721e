"""dtypes and the one dtype policy: which dtype an op's result has.

The rule follows torch: float32 is the default float; a Python float never
promotes a float32 tensor to float64; integer or bool tensors meeting a Python
float (or an op that only makes sense on floats) become the default float.
"""
import builtins as _py


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


float32 = DType("float32", 4, True)
float64 = DType("float64", 8, True)
int32 = DType("int32", 4, False)
int64 = DType("int64", 8, False)
bool_ = DType("bool", 1, False, is_signed=False)
float = float32  # torch's aliases  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001

ALL = (float32, float64, int32, int64, bool_)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(float=float32, double=float64, long=int64, int=int32, bool_=bool_)

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


# Ranks for promotion between tensors: bool < int32 < int64 < float32 < float64.
_RANK = {bool_: 0, int32: 1, int64: 2, float32: 3, float64: 4}


def promote_types(a, b):
    return a if _RANK[a] >= _RANK[b] else b


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


