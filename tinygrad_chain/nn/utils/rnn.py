"""torch.nn.utils.rnn: PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence, pack_sequence,
unpad_sequence, unpack_sequence.

A PackedSequence holds torch's fields: `data` (the valid steps, time-major, the batch sorted by decreasing
length), `batch_sizes` (how many sequences are still running at each step, int64 on the CPU),
`sorted_indices` and `unsorted_indices`. Packing and unpacking are one index each (a gather, an index_put),
so gradients flow through both. The RNN modules take a PackedSequence (nn/rnn.py).
"""
from collections import namedtuple

import numpy

from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.creation import tensor
from tinygrad_chain.functions import cat, stack


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: t if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def lengths(self):
        """Each sequence's length, in the original batch order."""
        sizes = _host(self.batch_sizes)
        counts = (sizes[None, :] > numpy.arange(sizes[0])[:, None]).sum(1)
        return counts if self.unsorted_indices is None else counts[_host(self.unsorted_indices)]


def _host(t):
    return numpy.asarray(t._b.to_numpy(t._data)) if isinstance(t, TensorCore) else numpy.asarray(t)


def _invert(perm):
    inverse = numpy.empty_like(_host(perm))
    inverse[_host(perm)] = numpy.arange(len(inverse))
    return tensor(inverse, device=perm.device)


def _flat_index(batch_sizes, sorted_order, batch):
    """For each packed row, its position t * batch + b in a time-major (T, B) padded tensor (b original)."""
    rows = [t * batch + sorted_order[:n] for t, n in enumerate(_host(batch_sizes))]
    return numpy.concatenate(rows) if rows else numpy.zeros(0, numpy.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):  # noqa: A002
    lengths = _host(lengths).astype(numpy.int64).reshape(-1)
    batch = input.shape[0 if batch_first else 1]
    if len(lengths) != batch:
        raise ValueError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} (batch_size="
                         f"{batch})")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if enforce_sorted:
        if numpy.any(numpy.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order, sorted_indices = numpy.arange(batch), None
    else:
        order = numpy.argsort(-lengths, kind="stable")
        sorted_indices = tensor(order, device=input.device)
    x = input.transpose(0, 1) if batch_first else input
    steps = int(lengths.max()) if lengths.size else 0
    batch_sizes = (lengths[order][None, :] > numpy.arange(steps)[:, None]).sum(1)
    flat = tensor(_flat_index(batch_sizes, order, batch), device=input.device)
    data = x[:steps].reshape(steps * batch, *x.shape[2:])[flat]
    return PackedSequence(data, tensor(batch_sizes), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    data, batch_sizes = sequence.data, sequence.batch_sizes
    sizes = _host(batch_sizes)
    steps, batch = len(sizes), int(sizes[0]) if len(sizes) else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {steps}")
        steps_out = total_length
    else:
        steps_out = steps
    order = (numpy.arange(batch) if sequence.sorted_indices is None else _host(sequence.sorted_indices))
    flat = tensor(_flat_index(batch_sizes, order, batch), device=data.device)
    padded = data.new_full((steps_out * batch, *data.shape[1:]), padding_value).index_put((flat,), data)
    padded = padded.reshape(steps_out, batch, *data.shape[1:])
    lengths = tensor(sequence.lengths())
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    sequences = list(sequences)
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        if extra:
            fill = s.new_full((extra, *s.shape[1:]), padding_value)
            parts = [s, fill] if padding_side == "right" else [fill, s]
            s = cat(parts, 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(_host(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
