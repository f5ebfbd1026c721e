"""multinomial (against torch's errors and the expected frequencies) and the
generator= keyword of tc.rand / randn / randint / randperm / multinomial."""
import numpy as np
import pytest
from helpers import to_np

torch = pytest.importorskip("torch")
import tinygrad_chain as tc  # noqa: E402


# ---- multinomial -------------------------------------------------------------------------
def test_shapes_and_dtype():
    p = tc.tensor([0.2, 0.3, 0.5])
    out = tc.multinomial(p, 2)
    assert out.shape == (2,) and out.dtype is tc.int64 and not out.requires_grad
    rows = tc.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 1.0, 1.0]])
    out = rows.multinomial(3, replacement=True)
    assert out.shape == (2, 3) and out.dtype is tc.int64
    assert rows.multinomial(4).shape == (2, 4)
    assert tc.multinomial(tc.ones(0, 3), 2).shape == (0, 2)
    assert tc.multinomial(tc.ones(3, dtype=tc.float64, requires_grad=True), 2).shape == (2,)


def test_without_replacement_draws_distinct_categories():
    w = tc.tensor([[1.0, 5.0, 0.5, 2.0, 3.0]] * 50)
    out = to_np(w.multinomial(5))
    assert all(sorted(r) == [0, 1, 2, 3, 4] for r in out)
    out = to_np(w.multinomial(3))
    assert all(len(set(r)) == 3 for r in out)


def test_zero_weights_are_never_drawn_while_others_remain():
    w = tc.tensor([[0.0, 1.0, 0.0, 3.0, 0.0], [2.0, 0.0, 0.0, 0.0, 0.0]])
    with_repl = to_np(w.multinomial(2000, replacement=True))
    assert set(with_repl[0]) <= {1, 3} and set(with_repl[1]) == {0}
    for _ in range(20):
        r = to_np(w.multinomial(2))
        assert set(r[0]) == {1, 3} and r[1, 0] == 0
    # torch: once the weighted categories are used up, zero-weight ones follow
    assert to_np(tc.multinomial(tc.tensor([1.0, 0.0, 0.0]), 2)).tolist()[0] == 0


def test_frequencies_match_the_weights():
    tc.manual_seed(3)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    n = 40000
    draws = to_np(tc.multinomial(tc.tensor(w), n, replacement=True))
    freq = np.bincount(draws, minlength=4) / n
    assert np.allclose(freq, w / w.sum(), atol=0.01), freq
    # without replacement, the first draw follows the weights too
    firsts = to_np(tc.tensor(np.tile(w, (n, 1))).multinomial(2))[:, 0]
    freq = np.bincount(firsts, minlength=4) / n
    assert np.allclose(freq, w / w.sum(), atol=0.01), freq
    # and the second draw is from the rest: P(second = 0 | first = 3) = 1 / 6
    both = to_np(tc.tensor(np.tile(w, (n, 1))).multinomial(2))
    second = both[both[:, 0] == 3, 1]
    assert abs(np.mean(second == 0) - 1 / 6) < 0.02


@pytest.mark.parametrize("args,words", [
    (([1.0, 0.0, 0.0], 4), ["without replacement", "[3]"]),
    (([1.0, -1.0, 0.0], 1), ["element < 0"]),
    (([0.0, 0.0, 0.0], 1), ["sum of probabilities <= 0"]),
    (([[1.0, 1.0], [0.0, 0.0]], 1), ["sum of probabilities <= 0", "[2, 2]"]),
    (([1.0, float("nan")], 1), ["nan"]),
    (([1.0, float("inf")], 1), ["inf"]),
    ((1.0, 1), ["1 or 2 dim"]),
    (([[[1.0]]], 1), ["1 or 2 dim", "[1, 1, 1]"]),
    (([1.0, 1.0], 0), ["n_sample <= 0"]),
    (([1.0, 1.0], -1), ["n_sample <= 0"]),
    (([1, 1], 1), ["floating-point", "int64"]),
    (([], 1), ["without replacement"]),
])
def test_errors_like_torch(args, words):
    data, n = args
    with pytest.raises(Exception) as theirs:
        torch.multinomial(torch.tensor(data), n)
    with pytest.raises(type(theirs.value)) as ours:
        tc.multinomial(tc.tensor(data), n)
    for w in words:
        assert w in str(ours.value), f"{w!r} not in {ours.value}"


# ---- generator= ------------------------------------------------------------------------
DRAWS = {
    "rand": lambda g: tc.rand(2, 3, generator=g),
    "randn": lambda g: tc.randn((4,), generator=g, dtype=tc.float64),
    "randint": lambda g: tc.randint(0, 10, (5,), generator=g),
    "randint_high_only": lambda g: tc.randint(10, (5,), generator=g),
    "randperm": lambda g: tc.randperm(8, generator=g),
    "multinomial": lambda g: tc.multinomial(tc.tensor([[1.0, 2.0, 3.0, 4.0]] * 3), 2, generator=g),
    "multinomial_replacement": lambda g: tc.tensor([0.5, 0.5, 1.0]).multinomial(6, True, generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_generator_reproducible(name):
    draw = DRAWS[name]
    g = tc.Generator().manual_seed(1234)
    a = to_np(draw(g))
    b = to_np(draw(g))  # the generator advanced
    g.manual_seed(1234)
    assert np.array_equal(to_np(draw(g)), a)
    state = g.get_state()
    c = to_np(draw(g))
    assert np.array_equal(c, b)
    g.set_state(state)
    assert np.array_equal(to_np(draw(g)), b)
    # a second generator with the same seed gives the same values; another seed others
    assert np.array_equal(to_np(draw(tc.Generator().manual_seed(1234))), a)
    others = [to_np(draw(tc.Generator().manual_seed(s))) for s in range(5)]
    assert any(not np.array_equal(o, a) for o in others)
    assert any(not np.array_equal(to_np(draw(g)), a) for _ in range(5))


def test_generator_leaves_the_global_rng_alone():
    tc.manual_seed(7)
    expected = to_np(tc.rand(4))
    tc.manual_seed(7)
    tc.rand(3, generator=tc.Generator().manual_seed(1))
    tc.multinomial(tc.ones(3), 2, generator=tc.Generator())
    assert np.array_equal(to_np(tc.rand(4)), expected)


def test_global_seed_still_controls_draws_without_generator():
    for draw in (lambda: tc.rand(3), lambda: tc.randint(0, 100, (3,)), lambda: tc.randperm(6),
                 lambda: tc.multinomial(tc.ones(2, 5), 3)):
        tc.manual_seed(11)
        a = to_np(draw())
        tc.manual_seed(11)
        assert np.array_equal(to_np(draw()), a)


def test_bad_generator_is_type_error():
    with pytest.raises(TypeError, match="Generator"):
        tc.rand(2, generator=3)
