"""tc.utils.data: every sample once per epoch, partial/dropped last batches, reproducible shuffles, collation."""
from collections import namedtuple

import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import to_np
from tinygrad_chain.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                       RandomSampler, SequentialSampler, Subset, TensorDataset, default_collate,
                                       random_split)


def _dataset(n=10):
    return TensorDataset(tc.arange(n).float().reshape(n, 1) * 10, tc.arange(n))


def _labels(loader):
    return [to_np(y).tolist() for _, y in loader]


class Squares(Dataset):
    """A map-style dataset of (tensor, int) samples."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return tc.tensor([float(i), float(i * i)]), i

    def __len__(self):
        return self.n


def test_tensor_dataset():
    ds = _dataset(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert to_np(x).tolist() == [30.0] and int(y) == 3
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(tc.zeros(3, 2), tc.zeros(4))


def test_sequential_batches_with_partial_last():
    loader = DataLoader(_dataset(10), batch_size=3)
    assert len(loader) == 4
    assert _labels(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    xb, yb = next(iter(loader))
    assert xb.shape == (3, 1) and xb.dtype is tc.float32 and yb.dtype is tc.int64
    np.testing.assert_array_equal(to_np(xb), [[0.0], [10.0], [20.0]])


def test_drop_last():
    loader = DataLoader(_dataset(10), batch_size=3, drop_last=True)
    assert len(loader) == 3
    assert _labels(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(DataLoader(_dataset(9), batch_size=3, drop_last=True)) == 3


@pytest.mark.parametrize("n,batch", [(10, 3), (17, 4), (8, 8), (5, 16)])
def test_shuffle_visits_every_sample_once_per_epoch(n, batch):
    loader = DataLoader(_dataset(n), batch_size=batch, shuffle=True)
    orders = []
    for _ in range(4):
        batches = _labels(loader)
        sizes = [len(b) for b in batches]
        assert sizes == [batch] * (n // batch) + ([n % batch] if n % batch else [])
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(n))
        orders.append(flat)
    if n > 4:
        assert len({tuple(o) for o in orders}) > 1  # a new order each epoch


def test_samples_and_features_stay_paired():
    for x, y in DataLoader(_dataset(13), batch_size=4, shuffle=True):
        np.testing.assert_array_equal(to_np(x)[:, 0], to_np(y) * 10)


def test_seeded_generator_is_reproducible():
    def orders(seed, epochs=3):
        loader = DataLoader(_dataset(20), batch_size=6, shuffle=True, generator=tc.Generator().manual_seed(seed))
        return [_labels(loader) for _ in range(epochs)]
    assert orders(7) == orders(7)
    assert orders(7) != orders(8)
    tc.manual_seed(123)  # the explicit generator ignores the global seed
    a = orders(7)
    tc.manual_seed(456)
    assert orders(7) == a


def test_manual_seed_drives_default_shuffling():
    def orders():
        loader = DataLoader(_dataset(20), batch_size=5, shuffle=True)
        return [_labels(loader) for _ in range(3)]
    tc.manual_seed(3)
    a = orders()
    tc.manual_seed(3)
    assert orders() == a
    tc.manual_seed(4)
    assert orders() != a


def test_generator_state_round_trip():
    g = tc.Generator().manual_seed(11)
    assert g.initial_seed() == 11
    state = g.get_state()
    first = g.randperm(30)
    g.set_state(state)
    assert g.randperm(30) == first


def test_generic_dataset_and_default_collate():
    loader = DataLoader(Squares(7), batch_size=3)
    batches = list(loader)
    assert len(batches) == 3
    x, i = batches[0]
    assert x.shape == (3, 2) and i.dtype is tc.int64
    np.testing.assert_array_equal(to_np(x), [[0, 0], [1, 1], [2, 4]])
    assert to_np(batches[-1][1]).tolist() == [6]


def test_default_collate_structures():
    Pair = namedtuple("Pair", "a b")
    batch = [{"x": tc.ones(2) * i, "n": i, "f": 0.5 * i, "ok": i % 2 == 0, "name": f"s{i}", "p": Pair(i, 1.0)}
             for i in range(3)]
    out = default_collate(batch)
    assert out["x"].shape == (3, 2)
    assert out["n"].dtype is tc.int64 and to_np(out["n"]).tolist() == [0, 1, 2]
    assert out["f"].dtype is tc.float64
    assert out["ok"].dtype is tc.bool and to_np(out["ok"]).tolist() == [True, False, True]
    assert out["name"] == ["s0", "s1", "s2"]
    assert isinstance(out["p"], Pair) and to_np(out["p"].a).tolist() == [0, 1, 2]
    lists = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(lists, list) and to_np(lists[0]).tolist() == [1, 3]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_custom_collate_fn_and_unbatched():
    loader = DataLoader(Squares(5), batch_size=2, collate_fn=lambda samples: [s[1] for s in samples])
    assert list(loader) == [[0, 1], [2, 3], [4]]
    unbatched = list(DataLoader(Squares(3), batch_size=None))
    assert len(unbatched) == 3 and unbatched[2][1] == 2


def test_fast_path_matches_generic_path():
    """TensorDataset batches come from one gather per tensor; they must equal stacked samples."""
    ds = _dataset(11)
    sub = Subset(ds, [10, 3, 5, 0, 7, 2])
    fast = list(DataLoader(sub, batch_size=4))
    slow = list(DataLoader(sub, batch_size=4, collate_fn=lambda b: default_collate(b)))  # stacks samples
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(to_np(fx), to_np(sx))
        np.testing.assert_array_equal(to_np(fy), to_np(sy))
    assert to_np(fast[0][1]).tolist() == [10, 3, 5, 0]


def test_random_split():
    ds = _dataset(10)
    parts = random_split(ds, [7, 3], generator=tc.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [7, 3]
    idx = [i for p in parts for i in p.indices]
    assert sorted(idx) == list(range(10))
    again = random_split(ds, [7, 3], generator=tc.Generator().manual_seed(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    fr = random_split(ds, [0.5, 0.3, 0.2], generator=tc.Generator().manual_seed(1))
    assert [len(p) for p in fr] == [5, 3, 2]
    assert [len(p) for p in random_split(_dataset(11), [0.5, 0.5])] == [6, 5]  # remainder round-robin
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 4])
    x, y = parts[1][0]
    assert int(y) * 10 == float(x)


def test_subset_and_concat():
    sub = Subset(Squares(10), [9, 2])
    assert len(sub) == 2 and sub[0][1] == 9
    cat = ConcatDataset([Squares(3), Squares(2)])
    assert len(cat) == 5 and cat[3][1] == 0 and cat[-1][1] == 1
    assert len(Squares(2) + Squares(4)) == 6


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))
    assert [to_np(b).tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(DataLoader(Stream(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    s = RandomSampler(range(6), generator=tc.Generator().manual_seed(2))
    assert sorted(s) == list(range(6)) and len(s) == 6
    r = list(RandomSampler(range(3), replacement=True, num_samples=10, generator=tc.Generator().manual_seed(2)))
    assert len(r) == 10 and set(r) <= {0, 1, 2}
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    loader = DataLoader(Squares(6), batch_sampler=BatchSampler(SequentialSampler(range(6)), 4, False))
    assert [to_np(b[1]).tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(_dataset(), sampler=SequentialSampler(range(10)), shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(_dataset(), batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_dataset(), batch_size=4, batch_sampler=BatchSampler(range(10), 2, False))
    with pytest.raises(IndexError):
        list(DataLoader(Subset(_dataset(3), [0, 5]), batch_size=2))
