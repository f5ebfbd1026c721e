"""DataLoader: batches from a dataset, in order or shuffled, in the main process or in workers (worker.py)."""
import multiprocessing

from tinygrad_chain.generator import check_generator

from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import WorkerIterator


class DataLoader:
    """Iterate over a dataset in batches (torch's arguments; pin_memory is a no-op on the CPU).

    Every index is visited exactly once per epoch; the last batch is partial
    unless drop_last. shuffle=True draws a new order each epoch from
    `generator`, or, without one, from a seed drawn from the global RNG.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device=""):
        _check_worker_options(num_workers, prefetch_factor, persistent_workers, multiprocessing_context, timeout)
        self.dataset, self.num_workers = dataset, num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.persistent_workers, self.worker_init_fn = persistent_workers, worker_init_fn
        self.multiprocessing_context, self._workers = multiprocessing_context, None
        self.generator = check_generator(generator, "DataLoader")
        self.pin_memory, self.timeout, self.drop_last = pin_memory, timeout, drop_last
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler/batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if (batch_size is not None or batch_sampler is not None) \
                else default_convert
        self.collate_fn = collate_fn

    def __iter__(self):
        if self.num_workers > 0:
            if self._workers is not None and self._workers._live:  # persistent: a new epoch on the same processes
                self._workers._start(self)
                return self._workers
            it = WorkerIterator(self, self._fetcher())
            if self.persistent_workers:
                self._workers = it
            return it
        if self._iterable:
            return _stream(self.dataset, self.collate_fn, self.batch_size, self.drop_last)
        fetch = self._fetcher().fetch
        return (fetch(task) for task in self._index_source())

    def _index_source(self):
        """What each step fetches: a list of indices (batching), or one index."""
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _fetcher(self):
        if self._iterable:
            return _StreamFetcher(self.dataset, self.collate_fn, self.batch_size, self.drop_last)
        return _MapFetcher(self.dataset, self.collate_fn, self.batch_sampler is not None)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


class _MapFetcher:
    """One step of a map-style dataset: the samples at some indices, collated (in the main process or a worker)."""

    def __init__(self, dataset, collate_fn, batched):
        self.dataset, self.collate_fn, self.batched = dataset, collate_fn, batched

    def restart(self):
        pass

    def fetch(self, indices):
        if not self.batched:
            return self.collate_fn(self.dataset[indices])
        if self.collate_fn is default_collate:
            tensors = _tensor_source(self.dataset, indices)
            if tensors is not None:  # one gather per tensor instead of stacking single samples
                src, idx = tensors
                return [t[idx] for t in src]
        return self.collate_fn([self.dataset[i] for i in indices])


class _StreamFetcher:
    """The next batch of an IterableDataset (each worker iterates its own copy)."""

    def __init__(self, dataset, collate_fn, batch_size, drop_last):
        self.dataset, self.collate_fn, self.batch_size, self.drop_last = dataset, collate_fn, batch_size, drop_last
        self._batches = None  # made where it runs: a generator does not pickle

    def restart(self):
        self._batches = _stream(self.dataset, self.collate_fn, self.batch_size, self.drop_last)

    def fetch(self, _):
        return next(self._batches)


def _stream(dataset, collate_fn, batch_size, drop_last):
    if batch_size is None:
        for sample in dataset:
            yield collate_fn(sample)
        return
    batch = []
    for sample in dataset:
        batch.append(sample)
        if len(batch) == batch_size:
            yield collate_fn(batch)
            batch = []
    if batch and not drop_last:
        yield collate_fn(batch)


def _check_worker_options(num_workers, prefetch_factor, persistent_workers, context, timeout):
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                         "multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0:
        if prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if context is not None:
            raise ValueError(f"multiprocessing_context can only be used with multi-process loading (num_workers > "
                             f"0), but got num_workers={num_workers}")
    elif prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError("prefetch_factor option should be a positive integer")
    if isinstance(context, str) and context not in multiprocessing.get_all_start_methods():
        raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                         f"{multiprocessing.get_all_start_methods()!r}, but got multiprocessing_context={context!r}")


def _tensor_source(dataset, indices):
    """(tensors, indices) when dataset is a TensorDataset, possibly under Subsets; else None."""
    indices = list(indices)
    while isinstance(dataset, Subset):
        indices = [dataset.indices[i] for i in indices]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    n = len(dataset)
    if any(not -n <= i < n for i in indices):
        bad = next(i for i in indices if not -n <= i < n)
        raise IndexError(f"index {bad} is out of bounds for dimension 0 with size {n}")
    return dataset.tensors, indices
