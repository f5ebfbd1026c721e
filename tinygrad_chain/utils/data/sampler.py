"""Samplers: the order in which a DataLoader visits a dataset's indices.

Every sampler yields its indices lazily: draws with replacement come in chunks of
_CHUNK, permutations one epoch of the data at a time, so memory does not grow with
num_samples (RandomSampler(data, replacement=True, num_samples=int(1e10)) starts at once).
"""
from tinygrad_chain.generator import check_generator, from_global_seed

_CHUNK = 32  # draws per call to the generator, as torch's RandomSampler


class Sampler:
    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation each epoch (or draws with replacement).

    With no generator, each epoch's order comes from a seed drawn from the
    global RNG, so tc.manual_seed makes shuffling reproducible.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement = data_source, replacement
        self.generator = check_generator(generator, "RandomSampler")
        self._num_samples = num_samples
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        gen = self.generator if self.generator is not None else from_global_seed()
        if self.replacement:
            for start in range(0, self.num_samples, _CHUNK):
                yield from gen.randranges(n, min(_CHUNK, self.num_samples - start))
            return
        for _ in range(self.num_samples // n):
            yield from gen.randperm(n)
        yield from gen.randperm(n)[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, check_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        gen = self.generator if self.generator is not None else from_global_seed()
        for i in gen.randperm(len(self.indices)):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices drawn with probabilities proportional to weights (with or without replacement)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = [float(v) for v in (weights.tolist() if hasattr(weights, "tolist") else weights)]
        if any(v < 0 or v != v for v in w) or not sum(w) or (not replacement and num_samples > sum(v > 0 for v in w)):
            raise RuntimeError(f"WeightedRandomSampler: weights must be non-negative with a positive sum, and hold at "
                               f"least num_samples={num_samples} nonzero entries without replacement")
        self.weights, self.num_samples, self.replacement = w, num_samples, replacement
        self.generator = check_generator(generator, "WeightedRandomSampler")

    def __iter__(self):
        gen = self.generator if self.generator is not None else from_global_seed()
        yield from gen.weighted(self.weights, self.num_samples, self.replacement)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of batch_size indices from sampler; the last may be shorter unless drop_last."""

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
