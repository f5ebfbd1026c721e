"""torch's legacy constructors, still everywhere in the wild.

    tc.Tensor(2, 3)            an uninitialised float tensor of shape (2, 3) (sizes, or one tc.Size)
    tc.Tensor([1, 2])          data, as the default float dtype
    tc.FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor, HalfTensor, BFloat16Tensor: the
                               same, of one dtype
    tc.cuda.FloatTensor, ...   on the GPU
    x.type(tc.FloatTensor)     a cast; x.type() names x's type: 'tinygrad_chain.FloatTensor'

The typed names are not classes of tensors (a tensor is always a tc.Tensor, as in torch),
but isinstance(x, tc.FloatTensor) asks for x's dtype and device type, as torch's does.
"""
import numbers

from tinygrad_chain import creation, dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.device import get_default_device
from tinygrad_chain.size import Size

_NAMES = {"Float": dtypes.float32, "Double": dtypes.float64, "Long": dtypes.int64, "Int": dtypes.int32,
          "Short": dtypes.int16, "Char": dtypes.int8, "Byte": dtypes.uint8,
          "Bool": dtypes.bool_, "Half": dtypes.float16, "BFloat16": dtypes.bfloat16}


def new(args, dtype, device, who):
    """The tensor torch's legacy constructor `who` makes of `args`: sizes, or data of `dtype`."""
    dtype = dtype or dtypes.get_default_dtype()
    if not args or all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args) or (
            len(args) == 1 and isinstance(args[0], Size)):
        return creation.empty(*args if args else (0,), dtype=dtype, device=device)
    if len(args) > 1:
        raise TypeError(f"{who}(): expected sizes (ints) or one sequence of data, got "
                        f"({', '.join(type(a).__name__ for a in args)})")
    data = args[0]
    if isinstance(data, TensorCore):  # torch: the same memory, if the dtype fits
        if data.dtype is not dtype and who != "Tensor":
            raise TypeError(f"{who}(): expected a {dtype.name} tensor, got {data.dtype.name}")
        return data.detach() if device is None else data.detach().to(device)
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
        raise TypeError(f"{who}(): data must be a sequence (got {type(data).__name__}); for a tensor of one "
                        f"value use tc.tensor(value)")
    return creation.tensor(data, dtype=dtype, device=device)


class _TypedConstructor(type):
    """The metaclass of tc.FloatTensor & co.: calling one constructs, isinstance checks the dtype."""

    def __call__(cls, *args, device=None):
        if device is None:  # the default device when it is of this type (a CPU default may be numpy or cpp)
            device = None if get_default_device().type == cls.device_type else cls.device_type
        return new(args, cls.dtype, device, cls.__name__)

    def __instancecheck__(cls, obj):
        return isinstance(obj, TensorCore) and obj.dtype is cls.dtype and obj.device.type == cls.device_type

    def __repr__(cls):
        return f"<class '{cls.type_name}'>"


def _typed(kind, device_type):
    prefix = "tinygrad_chain." if device_type == "cpu" else "tinygrad_chain.cuda."
    return _TypedConstructor(f"{kind}Tensor", (), {"dtype": _NAMES[kind], "device_type": device_type,
                                                  "type_name": f"{prefix}{kind}Tensor", "__slots__": ()})


CPU = {f"{k}Tensor": _typed(k, "cpu") for k in _NAMES}
CUDA = {f"{k}Tensor": _typed(k, "cuda") for k in _NAMES}
_BY_TYPE_NAME = {t.type_name: t for t in (*CPU.values(), *CUDA.values())}


def type_name(t):
    """x.type(): 'tinygrad_chain.FloatTensor', 'tinygrad_chain.cuda.LongTensor', ..."""
    kind = next(k for k, d in _NAMES.items() if d is t.dtype)
    return (CPU if t.device.type == "cpu" else CUDA)[f"{kind}Tensor"].type_name


def cast(t, to):
    """x.type(to): `to` is a dtype, a typed constructor (tc.FloatTensor) or its name, as torch's
    'torch.FloatTensor' or ours; a cuda type also moves the tensor to the GPU, a CPU type back."""
    if isinstance(to, str):
        typed = _BY_TYPE_NAME.get(to.replace("torch.", "tinygrad_chain.", 1))
        to = typed if typed is not None else dtypes.get(to)
    if isinstance(to, _TypedConstructor):
        if t.device.type != to.device_type:
            t = t.to(to.device_type)
        return t.to(to.dtype)
    return t.to(dtypes.get(to))
