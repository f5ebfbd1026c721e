"""tc.Size: the type of `tensor.shape` and `tensor.size()`, a tuple of ints (torch.Size)."""
import operator


class Size(tuple):
    """A tuple of ints that prints as tinygrad_chain.Size([3, 4]), with numel(); slicing,
    concatenating or repeating one gives a Size."""
    __slots__ = ()

    def __new__(cls, sizes=()):
        items = []
        for n in sizes:
            try:
                items.append(operator.index(n))
            except TypeError:
                raise TypeError(f"tinygrad_chain.Size() takes an iterable of 'int' (item {len(items)} is "
                                f"'{type(n).__name__}')") from None
        return tuple.__new__(cls, items)

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        out = tuple.__getitem__(self, i)
        return _size(out) if type(i) is slice else out

    def __add__(self, other):
        return _size(tuple.__add__(self, other))

    def __radd__(self, other):
        return _size(tuple.__add__(tuple(other), self))

    def __mul__(self, n):
        return _size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __repr__(self):
        return f"tinygrad_chain.Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self):
        return (Size, (tuple(self),))


def _size(shape):
    """A Size from a tuple of ints, unchecked (the library's own shapes)."""
    return tuple.__new__(Size, shape)
