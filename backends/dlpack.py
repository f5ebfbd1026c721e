"""DLPack capsules for the array-module backends: bfloat16 across the boundary.

NumPy and CuPy export and import DLPack themselves; what this module adds is
bfloat16, which NumPy cannot carry (ml_dtypes' dtype is unknown to its DLPack
code) while torch, JAX and newer CuPy can. Its memory travels as uint16 (same
size, same bytes) and the dtype code in the capsule's DLTensor is relabelled in
place: kDLUInt to kDLBfloat on export, back on import. The capsule is read and
written through ctypes at the layout the DLPack header fixes (dlpack.h, v0.8
"dltensor" and v1.x "dltensor_versioned").
"""
import ctypes

CPU, CUDA = 1, 2  # DLDeviceType codes
UINT, BFLOAT = 1, 4  # DLDataTypeCode


class _DataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _Device), ("ndim", ctypes.c_int32), ("dtype", _DataType),
                ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64)]


class _Managed(ctypes.Structure):  # DLManagedTensor: capsule name "dltensor"
    _fields_ = [("dl_tensor", _Tensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class _ManagedVersioned(ctypes.Structure):  # DLManagedTensorVersioned: "dltensor_versioned"
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64), ("dl_tensor", _Tensor)]


_LAYOUTS = {b"dltensor": _Managed, b"dltensor_versioned": _ManagedVersioned}

_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype, _get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype, _get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


def is_capsule(obj):
    return type(obj).__name__ == "PyCapsule"


def _tensor(capsule):
    """The DLTensor inside an unconsumed DLPack capsule (its memory, not a copy)."""
    name = _get_name(capsule)
    if name not in _LAYOUTS:
        raise BufferError(f"from_dlpack: a capsule named {name!r} holds no unconsumed DLPack tensor (a capsule "
                          f"can be read once; names: dltensor, dltensor_versioned)")
    return _LAYOUTS[name].from_address(_get_pointer(capsule, name)).dl_tensor


def device_of(capsule):
    """(device type, device id) of the tensor a capsule holds."""
    d = _tensor(capsule).device
    return d.device_type, d.device_id


def relabel(capsule, old, new):
    """Change the capsule's 16-bit dtype code from `old` to `new` in place; False (nothing changed)
    when it holds another dtype."""
    dtype = _tensor(capsule).dtype
    if dtype.code != old or dtype.bits != 16 or dtype.lanes != 1:
        return False
    dtype.code = new
    return True


class Holder:
    """An already made capsule, offered to a from_dlpack that asks its argument for one (NumPy's, CuPy's)."""

    def __init__(self, capsule):
        self._capsule, self._device = capsule, device_of(capsule)

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        return self._capsule

    def __dlpack_device__(self):
        return self._device
