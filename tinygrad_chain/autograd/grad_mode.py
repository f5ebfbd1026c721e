"""Grad mode: whether ops record the tape. Thread-local, as in torch."""
import functools
import threading


class _State(threading.local):
    enabled = True          # record nodes for ops on tensors that require grad
    retain_all = False      # tc.autograd.retain_grads(): keep every interior .grad
    detect_anomaly = False  # check every backward output for NaN
    inference = False       # inside inference_mode()


state = _State()


def is_grad_enabled():
    return state.enabled


def is_inference_mode_enabled():
    return state.inference


class _GradModeContext:
    """A context manager that is also a decorator (torch's protocol)."""
    mode = None

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):  # noqa: N801
    """Ops inside record nothing: no graph, no saved arrays."""
    mode = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Turn recording back on inside a no_grad region."""
    mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self.mode  # torch's set_grad_enabled acts as a function too

    def __enter__(self):
        pass

    def __call__(self, fn):
        mode = self.mode
        state.enabled = self._prev

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class inference_mode(_GradModeContext):  # noqa: N801
    """no_grad under torch's name (tensors made inside are ordinary ones here); inference_mode(False)
    leaves grad mode as it is. Also a bare decorator, as torch's."""

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.on = bool(mode)

    def __enter__(self):
        self._prev = state.enabled, state.inference
        if self.on:
            state.enabled = False
        state.inference = self.on

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev

    def __call__(self, fn):
        on = self.on

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(on):
                return fn(*args, **kwargs)
        return wrapper
