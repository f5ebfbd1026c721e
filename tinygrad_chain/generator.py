"""tc.Generator: a seedable random source for shuffling, splitting and sampling.

It drives index permutations (DataLoader shuffling, random_split), which are
plain Python integers, so it wraps Python's Mersenne Twister rather than a
device array RNG. Without an explicit generator, those functions draw a seed
from the global RNG that tc.manual_seed controls, as torch's do. Tensor draws
(tc.rand, randn, randint, randperm, multinomial with generator=g) seed a fresh
backend RNG from it per call, so one generator serves every device.
"""
import random as _random

from tinygrad_chain import dtypes
from tinygrad_chain.device import backend_for

_DEFAULT_SEED = 67280421310721  # torch's default initial seed


class Generator:
    def __init__(self, device="cpu"):
        self.device = device
        self._seed = _DEFAULT_SEED
        self._rng = _random.Random(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng.seed(self._seed)
        return self

    def seed(self):
        """Reseed from a non-deterministic source; returns the new seed."""
        self.manual_seed(_random.SystemRandom().getrandbits(63))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The full RNG state: nested tuples of ints (tc.save can store it)."""
        return self._rng.getstate()

    def set_state(self, state):
        version, internal, gauss = state
        self._rng.setstate((version, tuple(internal), gauss))
        return self

    # ---- draws used by tc.utils.data ------------------------------------------
    def randperm(self, n):
        """A random permutation of range(n), as a list of ints."""
        perm = list(range(n))
        self._rng.shuffle(perm)
        return perm

    def randranges(self, n, k):
        """k draws from range(n), with replacement."""
        return [self._rng.randrange(n) for _ in range(k)]

    def weighted(self, weights, k, replacement):
        """k indices drawn with probabilities proportional to weights; without replacement each index once."""
        if replacement:
            return self._rng.choices(range(len(weights)), weights=weights, k=k)
        # successive draws over what is left: exponential keys, the k smallest (Efraimidis-Spirakis)
        keys = [(self._rng.expovariate(1.0) / w, i) for i, w in enumerate(weights) if w > 0]
        return [i for _, i in sorted(keys)[:k]]

    # ---- tensor draws (tc.rand(..., generator=g), multinomial, ...) ------------
    def native_rng(self, backend):
        """A fresh RNG of `backend`'s own kind, seeded from this generator (which advances):
        the same generator state gives the same tensor, on every device kind."""
        return backend.make_rng(self._rng.getrandbits(63))


def check_generator(generator, who):
    """None or a tc.Generator, refused where it is passed (not at the first draw) if anything else."""
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"{who}: generator must be a tc.Generator or None, got {generator!r} (type "
                        f"{type(generator).__name__}); for a seed, pass tc.Generator().manual_seed(seed)")
    return generator


def native_rng(backend, generator):
    """The `rng` argument for a backend draw: None (the global RNG) without a generator."""
    if check_generator(generator, "random draw") is None:
        return None
    return generator.native_rng(backend)


def from_global_seed():
    """A Generator seeded from the global RNG (so tc.manual_seed fixes it)."""
    b = backend_for(None)  # the default device's RNG, as tc.randint(0, 2 ** 62, (1,)) draws
    return Generator().manual_seed(b.to_numpy(b.randint(0, 2 ** 62, (1,), dtypes.int64)).item())
