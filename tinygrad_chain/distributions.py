"""tc.distributions: torch.distributions' Categorical and Normal, the two policy heads RL scripts build
(pytorch/examples' reinforce.py and actor_critic.py sample a Categorical and back-propagate its log_prob).
sample() draws without a graph; log_prob(), entropy() and Normal.rsample() differentiate."""
import math
import numbers

import tinygrad_chain as tc


class Distribution:
    has_rsample = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = tc.Size(batch_shape), tc.Size(event_shape)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return tc.Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no rsample (it is not reparameterizable)")

    def __repr__(self):  # torch's: a 0-d parameter by its value, others by their size
        params = ", ".join(f"{k}: {v.item() if v.ndim == 0 else v.size()}" for k, v in self._repr_params())
        return f"{type(self).__name__}({params})"


class Categorical(Distribution):
    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            eps = tc.finfo(self.probs.dtype).eps  # torch's clamp_probs: log never sees 0 or 1
            self.logits = self.probs.clamp(min=eps, max=1 - eps).log()
        else:
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self.probs = self.logits.softmax(-1)
        self._num_events = self.probs.shape[-1]
        super().__init__(self.probs.shape[:-1], (), validate_args)

    def _repr_params(self):
        return [("probs", self.probs)]

    @property
    def param_shape(self):
        return self.probs.size()

    def sample(self, sample_shape=()):
        shape = tc.Size(sample_shape)
        with tc.no_grad():
            probs_2d = self.probs.reshape(-1, self._num_events)
            samples_2d = tc.multinomial(probs_2d, shape.numel(), True).t()
            return samples_2d.reshape(*self._extended_shape(shape))

    def log_prob(self, value):
        value = value.long()
        shape = tc.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape[:-1]))
        logits = self.logits.expand(*shape, self._num_events)
        return logits.gather(-1, value.expand(*shape).unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        logits = self.logits.clamp(min=tc.finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)


class Normal(Distribution):
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        numbers_only = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        like = loc if isinstance(loc, tc.Tensor) else scale if isinstance(scale, tc.Tensor) else None
        as_t = (lambda v: v if isinstance(v, tc.Tensor) else
                tc.tensor(float(v), dtype=like.dtype if like is not None else None,
                          device=like.device if like is not None else None))
        loc, scale = as_t(loc), as_t(scale)
        shape = tc.broadcast_shapes(tuple(loc.shape), tuple(scale.shape))
        self.loc, self.scale = loc.expand(*shape), scale.expand(*shape)
        super().__init__(() if numbers_only else shape, (), validate_args)

    def _repr_params(self):
        return [("loc", self.loc), ("scale", self.scale)]

    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(tc.Size(sample_shape))
        eps = tc.randn(*shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def sample(self, sample_shape=()):
        with tc.no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        if not isinstance(value, tc.Tensor):
            value = tc.tensor(float(value), dtype=self.loc.dtype, device=self.loc.device)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()


__all__ = ["Distribution", "Categorical", "Normal"]
