"""tc.set_num_threads / tc.get_num_threads, and results that do not depend on them."""
import numpy as np
import pytest

import tinygrad_chain as tc


@pytest.fixture
def restore_threads():
    before = tc.get_num_threads()
    yield
    tc.set_num_threads(before)


def test_set_and_get(restore_threads):
    tc.set_num_threads(1)
    assert tc.get_num_threads() == 1
    tc.set_num_threads(2)
    assert tc.get_num_threads() == 2


def test_rejects_non_positive():
    with pytest.raises(ValueError, match="set_num_threads"):
        tc.set_num_threads(0)


def test_one_and_two_threads_agree(restore_threads, device):
    tc.manual_seed(0)
    a = tc.randn(300, 200, requires_grad=True)
    b = tc.randn(200, 170, requires_grad=True)
    results = []
    for n in (1, 2):
        tc.set_num_threads(n)
        a.grad = b.grad = None
        out = (a @ b).tanh().sigmoid().softmax(-1)
        out.sum().backward()
        results.append((out.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for one, two in zip(*results):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-6)
