"""torch's memory formats and layouts, as the names scripts pass: every tensor here is dense and row-major, so
`memory_format=` is accepted everywhere torch takes it and changes nothing (contiguous() answers for any)."""


class memory_format:  # noqa: N801  (torch's name)
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):  # singletons, as dtypes
        return (globals().__getitem__, (self.name,))


class layout(memory_format):  # noqa: N801
    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
strided = layout("strided")
