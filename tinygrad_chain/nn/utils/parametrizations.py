"""torch.nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations (parametrize.py), with
torch's parameter names (parametrizations.weight.original0 / original1 for weight_norm)."""
from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.creation import randn

from ..functional import normalize
from ..module import Module
from .parametrize import register_parametrization
from .weight_norm import _norm_except_dim


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        self.dim = dim if dim >= 0 else dim + weight.ndim
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if weight.ndim > 1:
            m = self._matrix(weight)
            with no_grad():
                self.register_buffer("_u", normalize(randn(m.shape[0], dtype=weight.dtype, device=weight.device),
                                                     dim=0, eps=eps))
                self.register_buffer("_v", normalize(randn(m.shape[1], dtype=weight.dtype, device=weight.device),
                                                     dim=0, eps=eps))
            self._power_method(m, 15)

    def _matrix(self, weight):
        w = weight.movedim(self.dim, 0) if self.dim else weight
        return w.reshape(w.shape[0], -1)

    def _power_method(self, m, iterations):
        with no_grad():
            for _ in range(iterations):
                self._u.copy_(normalize(m.detach().matmul(self._v), dim=0, eps=self.eps))
                self._v.copy_(normalize(m.detach().t().matmul(self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        m = self._matrix(weight)
        if self.training:
            self._power_method(m, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / u.dot(m.matmul(v))

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    weight = getattr(module, name)
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
