"""torch.nn.utils.weight_norm and spectral_norm (the hook-based forms): the parameter `name` is replaced by
parameters it is computed from, recomputed by a forward pre-hook before each call, as torch's are.

weight_norm: name = g * v / ||v|| (the norm over every dim but `dim`), parameters name_g and name_v.
spectral_norm: name = name_orig / sigma, sigma from power iteration on buffers name_u and name_v (one or more
steps per training forward; in eval the stored vectors are used as they are).
"""
from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.creation import randn

from ..functional import normalize
from ..parameter import Parameter


def _norm_except_dim(v, dim):
    if dim is None or dim == -1 and v.ndim == 0:
        return v.norm()
    d = dim % v.ndim
    axes = tuple(i for i in range(v.ndim) if i != d)
    return v.square().sum(axes, keepdim=True).sqrt() if axes else v.abs()


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module, name="weight", dim=0):
    weight = getattr(module, name)
    hook = _WeightNorm(name, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, dim).detach().clone()))
    module.register_parameter(name + "_v", Parameter(weight.detach().clone()))
    object.__setattr__(module, name, hook.compute(module))
    handle = module.register_forward_pre_hook(hook)
    module.__dict__.setdefault("_norm_hooks", {})[name] = (hook, handle)
    return module


def remove_weight_norm(module, name="weight"):
    return _remove(module, name, _WeightNorm, (name + "_g", name + "_v"), ())


def _remove(module, name, kind, params, buffers):
    """The hook's weight, computed once, back as the plain parameter `name`."""
    hook, handle = module.__dict__.get("_norm_hooks", {}).pop(name, (None, None))
    if not isinstance(hook, kind):
        raise ValueError(f"{kind.__name__[1:]} of '{name}' not found in {module}")
    weight = hook.compute(module).detach()
    handle.remove()
    for p in params:
        del module._parameters[p]
    for b in buffers:
        del module._buffers[b]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight))
    return module


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def _matrix(self, w):
        if self.dim:
            w = w.movedim(self.dim, 0)
        return w.reshape(w.shape[0], -1)

    def compute(self, module, do_power_iteration=False):
        w = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        m = self._matrix(w)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize(m.detach().t().matmul(u), dim=0, eps=self.eps))
                    u.copy_(normalize(m.detach().matmul(v), dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()
        sigma = u.dot(m.matmul(v))
        return w / sigma

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    weight = getattr(module, name)
    hook = _SpectralNorm(name, n_power_iterations, dim, eps)
    m = hook._matrix(weight)
    del module._parameters[name]
    module.register_parameter(name + "_orig", Parameter(weight.detach().clone()))
    with no_grad():
        u = normalize(randn(m.shape[0], dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
        v = normalize(randn(m.shape[1], dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    object.__setattr__(module, name, weight.detach() * 1.0)
    handle = module.register_forward_pre_hook(hook)
    module.__dict__.setdefault("_norm_hooks", {})[name] = (hook, handle)
    return module


def remove_spectral_norm(module, name="weight"):
    return _remove(module, name, _SpectralNorm, (name + "_orig",), (name + "_u", name + "_v"))
