"""default_collate: a list of samples -> one batch (tensors stacked along a new first dimension)."""
import collections.abc

from tinygrad_chain import dtypes
from tinygrad_chain.functions import stack
from tinygrad_chain.tensor import Tensor, tensor


def default_collate(batch):
    """Stack tensors; numbers become 1-D tensors (int64, float64, bool); strings stay a list;
    dicts, namedtuples and sequences are collated field by field."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, bool):
        return tensor(batch, dtype=dtypes.bool_)
    if isinstance(elem, int):
        return tensor(batch, dtype=dtypes.int64)
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, (str, bytes)):
        return batch
    if hasattr(elem, "__array__") and hasattr(elem, "dtype"):  # NumPy arrays and scalars
        return stack([tensor(e) for e in batch], 0)
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({k: default_collate([d[k] for d in batch]) for k in elem})
        except TypeError:
            return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numbers, strings, dicts or lists; found "
                    f"{type(elem).__name__}")


def default_convert(data):
    """Without batching (batch_size=None): NumPy arrays become tensors, the rest is kept."""
    if isinstance(data, Tensor) or isinstance(data, (str, bytes)):
        return data
    if hasattr(data, "__array__") and hasattr(data, "dtype") and getattr(data, "dtype").kind in "biuf":
        return tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
