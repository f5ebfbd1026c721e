"""torch.amp (also torch.cuda.amp and torch.autocast): autocast and GradScaler, so that training loops written
for mixed precision run unchanged.

autocast changes nothing: every op computes in its inputs' dtypes (float32 stays float32, so results are at
least as precise as torch's autocast ones); enabled, it says so once. As torch does, an autocast or a
GradScaler for "cuda" without a usable GPU warns and disables itself.

GradScaler is torch's: scale() multiplies the loss, unscale_() divides the gradients and looks for inf/NaN,
step() skips the optimizer step when one was found, update() backs the scale off (or grows it every
growth_interval clean steps). Its scale is a power of two, so scaling and unscaling are exact.
"""
import functools
import math
import types
import warnings

from tinygrad_chain import backends
from tinygrad_chain.autograd.grad_mode import no_grad

_said = set()


def _say_once(key, message):
    if key not in _said:
        _said.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


def _cuda_missing(who, device_type):
    if device_type == "cuda" and not backends.is_available("cupy"):
        warnings.warn(f"{who}: User provided device_type of 'cuda', but CUDA is not available. Disabling",
                      UserWarning, stacklevel=3)
        return True
    return False


class autocast:  # noqa: N801  (torch's name)
    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        self.device_type, self.fast_dtype = device_type, dtype
        self._enabled = bool(enabled) and not _cuda_missing("torch.autocast", device_type)

    def __enter__(self):
        if self._enabled:
            _say_once("autocast", "autocast: tinygrad_chain has no mixed precision; ops run in their inputs' dtypes "
                                  "(float32 stays float32)")
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return run


def is_autocast_available(device_type):
    return True


class GradScaler:
    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = bool(enabled) and not _cuda_missing("torch.amp.GradScaler", device)
        self._scale, self._growth_factor, self._backoff_factor = float(init_scale), growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = growth_interval, 0
        self._per_optimizer = {}  # id(optimizer) -> {"unscaled": bool, "found_inf": bool}

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def get_growth_interval(self):
        return self._growth_interval

    def scale(self, outputs):
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": False})

    def unscale_(self, optimizer):
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        inv = 1.0 / self._scale
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    p.grad.mul_(inv)
                    found = found or not bool(p.grad.isfinite().all())
        state.update(unscaled=True, found_inf=found)

    def step(self, optimizer, *args, **kwargs):
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if not state["unscaled"]:
            self.unscale_(optimizer)
        if state["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        elif any(s["found_inf"] for s in self._per_optimizer.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                grown = self._scale * self._growth_factor
                self._scale = grown if math.isfinite(grown) else self._scale
                self._growth_tracker = 0
        self._per_optimizer.clear()

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        self._scale = float(state_dict["scale"])
        self._growth_factor, self._backoff_factor = state_dict["growth_factor"], state_dict["backoff_factor"]
        self._growth_interval, self._growth_tracker = state_dict["growth_interval"], state_dict["_growth_tracker"]


def is_autocast_enabled(device_type=None):
    return False  # autocast never changes a dtype here


class _CudaGradScaler(GradScaler):
    """torch.cuda.amp.GradScaler: the "cuda" GradScaler, spelled without the device."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


class _CudaAutocast(autocast):
    """torch.cuda.amp.autocast: the "cuda" autocast."""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__("cuda", dtype, enabled, cache_enabled)


cuda_amp = types.ModuleType("tinygrad_chain.cuda.amp", "torch.cuda.amp: GradScaler and autocast for \"cuda\".")
cuda_amp.GradScaler, cuda_amp.autocast = _CudaGradScaler, _CudaAutocast
