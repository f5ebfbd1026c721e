"""tc.distributions.Categorical and Normal against torch.distributions: log_prob, entropy and their gradients,
shapes of samples, sample frequencies, errors, reprs."""
import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import to_np

torch = pytest.importorskip("torch")


def _pair(x):
    return tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_categorical_log_prob_entropy_and_grads_as_torch(device, param):
    rng = np.random.default_rng(0)
    x = rng.random((3, 4)) + 0.1 if param == "probs" else rng.standard_normal((3, 4))
    a, ta = _pair(x)
    d, td = tc.distributions.Categorical(**{param: a}), torch.distributions.Categorical(**{param: ta})
    np.testing.assert_allclose(to_np(d.probs), td.probs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(to_np(d.logits), td.logits.detach().numpy(), rtol=1e-12, atol=1e-12)
    for value in (np.array([0, 3, 1]), np.array([[2], [0]])):  # one per batch row; broadcast against the batch
        lp, tlp = d.log_prob(tc.tensor(value)), td.log_prob(torch.tensor(value))
        np.testing.assert_allclose(to_np(lp), tlp.detach().numpy(), rtol=1e-12, atol=1e-12)
    loss, tloss = d.log_prob(tc.tensor([0, 3, 1])).sum() + d.entropy().sum(), \
        td.log_prob(torch.tensor([0, 3, 1])).sum() + td.entropy().sum()
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(to_np(a.grad), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert d.batch_shape == td.batch_shape and d.event_shape == td.event_shape
    assert d.sample().shape == td.sample().shape and d.sample((5, 2)).shape == td.sample((5, 2)).shape
    assert d.sample().dtype == tc.int64 and not d.sample().requires_grad


def test_categorical_samples_follow_probs(device):
    tc.manual_seed(0)
    s = to_np(tc.distributions.Categorical(tc.tensor([0.1, 0.6, 0.3])).sample((20000,)))
    np.testing.assert_allclose(np.bincount(s, minlength=3) / 20000, [0.1, 0.6, 0.3], atol=0.015)


def test_categorical_errors_and_repr_as_torch(device):
    for kwargs in ({}, {"probs": [0.5, 0.5], "logits": [0.0, 0.0]}):
        with pytest.raises(ValueError, match="^Either `probs` or `logits` must be specified, but not both.$"):
            tc.distributions.Categorical(**{k: tc.tensor(v) for k, v in kwargs.items()})
        with pytest.raises(ValueError, match="^Either `probs` or `logits` must be specified, but not both.$"):
            torch.distributions.Categorical(**{k: torch.tensor(v) for k, v in kwargs.items()})
    r = repr(tc.distributions.Categorical(tc.tensor([0.2, 0.8])))
    assert r.replace("tinygrad_chain", "torch") == repr(torch.distributions.Categorical(torch.tensor([0.2, 0.8])))


def test_normal_as_torch(device):
    rng = np.random.default_rng(1)
    loc, scale, value = rng.standard_normal((2, 3)), rng.random((3,)) + 0.5, rng.standard_normal((4, 2, 3))
    (a, ta), (b, tb) = _pair(loc), _pair(scale)
    d, td = tc.distributions.Normal(a, b), torch.distributions.Normal(ta, tb)
    lp, tlp = d.log_prob(tc.tensor(value)), td.log_prob(torch.tensor(value))
    np.testing.assert_allclose(to_np(lp), tlp.detach().numpy(), rtol=1e-12)
    (lp.sum() + d.entropy().sum()).backward()
    (tlp.sum() + td.entropy().sum()).backward()
    np.testing.assert_allclose(to_np(a.grad), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(to_np(b.grad), tb.grad.numpy(), rtol=1e-12)
    assert d.batch_shape == td.batch_shape and d.sample((5,)).shape == td.sample((5,)).shape
    assert not d.sample().requires_grad and d.rsample().requires_grad and d.has_rsample == td.has_rsample
    np.testing.assert_allclose(to_np(d.variance), td.variance.detach().numpy(), rtol=1e-12)
    assert repr(tc.distributions.Normal(0.0, 1.0)) == repr(torch.distributions.Normal(0.0, 1.0))
    assert tc.distributions.Normal(0.0, 1.0).batch_shape == torch.distributions.Normal(0.0, 1.0).batch_shape
    assert float(tc.distributions.Normal(0.0, 2.0).log_prob(1.0)) == pytest.approx(
        float(torch.distributions.Normal(0.0, 2.0).log_prob(torch.tensor(1.0))), rel=1e-6)
    tc.manual_seed(0)
    s = to_np(tc.distributions.Normal(tc.tensor(3.0), tc.tensor(2.0)).sample((20000,)))
    assert abs(s.mean() - 3.0) < 0.05 and abs(s.std() - 2.0) < 0.05
