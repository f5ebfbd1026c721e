"""torch.nn.utils.parametrize: a module's tensor computed from other tensors by parametrization modules.

register_parametrization(module, "weight", P) moves the weight to module.parametrizations.weight.original
(original0, original1, ... when P.right_inverse returns several) and makes module.weight a property that
runs the chain P(original) each time it is read, as torch does: the module's class becomes a subclass made
for it (Parametrized<Class>), so other instances are untouched.
"""
from contextlib import contextmanager

from tinygrad_chain.autograd.grad_mode import no_grad
from tinygrad_chain.autograd.tensor_core import TensorCore

from ..containers import ModuleDict, ModuleList
from ..parameter import Parameter


class ParametrizationList(ModuleList):
    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tensor = isinstance(new, TensorCore)
        if self.is_tensor:
            if original is not new:
                original.data = new.detach().clone()  # the same Parameter object, as torch's set_
            self._register(("original",), (original,), original.requires_grad)
        else:
            self._register([f"original{i}" for i in range(len(new))], new, original.requires_grad)
        self.ntensors = 1 if self.is_tensor else len(new)

    def _register(self, names, values, requires_grad):
        for name, value in zip(names, values):
            if isinstance(value, Parameter):
                self.register_parameter(name, value)
            else:
                self.register_parameter(name, Parameter(value.detach().clone(), requires_grad=requires_grad))

    def right_inverse(self, value):
        with no_grad():
            for module in reversed(list(self)[1:]):
                value = module.right_inverse(value) if hasattr(module, "right_inverse") else value
            first = self[0]
            value = first.right_inverse(value) if hasattr(first, "right_inverse") else value
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, v in enumerate(value):
                    getattr(self, f"original{i}").copy_(v)

    def forward(self):
        x = self[0](self.original) if self.is_tensor else self[0](*(getattr(self, f"original{i}")
                                                                      for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _inject_property(module, name):
    def getter(self):
        return self.parametrizations[name]()

    def setter(self, value):
        self.parametrizations[name].right_inverse(value)

    setattr(module.__class__, name, property(getter, setter))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    original = getattr(module, tensor_name)
    if not is_parametrized(module):
        cls = module.__class__
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {})
        module.parametrizations = ModuleDict()
    if tensor_name in module._parameters:
        del module._parameters[tensor_name]
    elif tensor_name in module._buffers:
        del module._buffers[tensor_name]
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], original, unsafe)
    _inject_property(module, tensor_name)
    return module


def is_parametrized(module, tensor_name=None):
    plist = module.__dict__.get("_modules", {}).get("parametrizations")
    if plist is None:
        return False
    return tensor_name is None or tensor_name in plist


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with no_grad():
        value = getattr(module, tensor_name) if leave_parametrized else plist.original
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, Parameter(value.detach().clone()))
    if not len(module.parametrizations):
        del module.parametrizations
        module.__class__ = module.__class__.__bases__[0]
    return module


@contextmanager
def cached():
    """torch's cache of parametrized tensors inside the block: here each read recomputes (same values)."""
    yield
