"""The Optimizer base class: param_groups, per-parameter state, state_dict.

Each parameter's update is an in-place op (ops/inplace.py: update_): the parameter, its
gradient and the state the update reads are checked for one device, dtype and shape before
anything is written, and the written tensors' version counters move. Before any parameter
changes, step() checks every parameter's gradient and state (a state_dict loaded for another
model or optimizer is refused with the optimizer, the parameter's index and both shapes and
dtypes named). An optimizer whose update is a row of backends/formulas.py (`_row`) gives its
state's keys and per-step scalars, and the backend runs the row in place (update_step: C++
or CUDA kernels, or NumPy ufuncs compiled from the row); SGD and Adam step each parameter group
with one call of their fused backend steps (sgd_steps, adam_steps: torch's foreach; ops/inplace.py:
update_all_). No graph, no new Tensor per step.
"""
import reprlib
import warnings
from collections import defaultdict
from collections.abc import Mapping

from tinygrad_chain.autograd import enable_grad
from tinygrad_chain.ops.inplace import check_writable, update_
from tinygrad_chain.tensor import Tensor


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    #: state entries that are not one value per element of a parameter (a count, a 0-d scalar,
    #: LBFGS's flat vectors): a loaded one is not held to the parameter's shape
    _unshaped_state = ("step",)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got Tensor")
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g._b.copy_into(g._writable(), 0)

    #: the backends/formulas.py row of the per-element update (None: the optimizer overrides _step)
    _row = None

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        todo = [(i, p, group) for i, (p, group) in enumerate((p, g) for g in self.param_groups for p in g["params"])
                if p.grad is not None]
        for i, p, group in todo:  # all of them before any parameter changes
            self._check(i, p, p.grad, group, self.state[p])
        by_group = {}
        for _, p, group in todo:
            by_group.setdefault(id(group), (group, []))[1].append(p)
        for group, params in by_group.values():
            self._step_group(group, params)
        return loss

    def _step_group(self, group, params):
        """The step of a group's parameters that have a gradient (an optimizer with a foreach step,
        one backend call for them all, overrides this)."""
        for p in params:
            self._step(p, p.grad, group, self.state[p])

    def _check(self, index, p, grad, group, state):
        """Refuse a gradient or a state tensor (a loaded one, say) that p's update cannot use."""
        name = type(self).__name__
        check_writable(f"{name}.step", p, f"parameter {index}")
        g, d = grad._data, p._data  # native dtype and shape: no tc.Size or dtype lookup per parameter and step
        if grad._b is not p._b or g.dtype != d.dtype or g.shape != d.shape:
            raise RuntimeError(f"{name}.step: parameter {index} is {_described(p)}, but its gradient is "
                               f"{_described(grad)}")
        if not state:
            return  # made at its first step
        for key in self._state_keys(group):
            if key is not None and key not in state:
                raise KeyError(f"{name}.step: the state of parameter {index} has no {key!r} (it has "
                               f"{sorted(state)}); a loaded state_dict must come from a {name}")
        for key, t in state.items():
            if key in self._unshaped_state or t is None:
                continue
            if not isinstance(t, Tensor) or t._b is not p._b or t._data.dtype != d.dtype or t._data.shape != d.shape:
                raise RuntimeError(f"{name}.step: parameter {index} is {_described(p)}, but its state {key!r} is "
                                   f"{_described(t)}; a state tensor has its parameter's shape, dtype and device")

    def _state_keys(self, group):
        """The keys of the state tensors p's update reads, in its row's order (None where this group's
        flags leave a row's state unused)."""
        return ()

    def _step(self, p, grad, group, state):
        """p's update as an in-place op: checked against grad, then written, its version moved."""
        if not state:
            self._init_state(p, group, state)
        keys = self._state_keys(group)
        tensors = tuple(None if k is None else state[k] for k in keys)
        step = state["step"] + 1
        scalars = self._scalars(p, group, state, step)
        update_(f"{type(self).__name__}.step", _run_row, (p, grad) + tensors, (0,) + tuple(range(2, 2 + len(keys))),
                row=self._row, scalars=scalars, scratch=self._scratch())
        state["step"] = step  # counted once the step has passed the checks

    def _init_state(self, p, group, state):
        """A parameter's state before its first step (subclasses with a _row)."""
        raise NotImplementedError

    def _scalars(self, p, group, state, step):
        """The row's scalars for this step (subclasses with a _row)."""
        raise NotImplementedError

    def _scratch(self):
        """The dict where backend steps keep their temporaries from step to step (by shape and
        dtype). This optimizer owns it: it goes with the optimizer, and no other optimizer or
        thread writes into it. Not part of the state: never saved, copied or pickled."""
        return self.__dict__.setdefault("_step_scratch", {})

    # ---- state ------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as torch."""
        index, groups = {}, []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        _check_layout(state_dict, type(self).__name__)
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) "
                             f"than the optimizer ({len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(s['params'])} saved parameters, the "
                                 f"optimizer {len(g['params'])}")
        id_map = {}
        for g, s in zip(groups, saved_groups):
            id_map.update(zip(s["params"], g["params"]))
        # built aside and checked whole: a bad buffer raises here, not at a later step, and changes nothing
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            key = int(key) if isinstance(key, str) and key.isdigit() else key
            if key not in id_map:
                continue
            p = id_map[key]
            state[p] = {k: _cast_like(v, p, k, key, k in self._unshaped_state, type(self).__name__)
                        for k, v in values.items()}
        self.state = state
        self.param_groups = [dict({k: v for k, v in s.items() if k != "params"}, params=g["params"])
                             for g, s in zip(groups, saved_groups)]

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)


def _check_layout(state_dict, owner):
    """state_dict has state_dict()'s layout: {"state": {index: {name: value}}, "param_groups":
    [{"params": [index, ...], ...}]}; a TypeError names what differs, before anything is loaded."""
    def refuse(what, value):
        raise TypeError(f"{owner}.load_state_dict: expected {what}, got {type(value).__name__}: "
                        f"{reprlib.repr(value)}")

    if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= state_dict.keys():
        refuse("a dict with keys 'state' and 'param_groups' (an optimizer's state_dict())", state_dict)
    if not isinstance(state_dict["state"], Mapping):
        refuse("'state' to be a dict of parameter index -> dict of buffers", state_dict["state"])
    for values in state_dict["state"].values():
        if not isinstance(values, Mapping):
            refuse("each 'state' entry to be a dict of buffers", values)
    if not isinstance(state_dict["param_groups"], (list, tuple)):
        refuse("'param_groups' to be a list of dicts", state_dict["param_groups"])
    for g in state_dict["param_groups"]:
        if not isinstance(g, Mapping) or not isinstance(g.get("params"), (list, tuple)):
            refuse("each of 'param_groups' to be a dict with a 'params' list", g)


def _cast_like(value, param, key, index, unshaped=False, owner="Optimizer"):
    """A private copy of a state tensor, on param's device and (if floating) dtype, as torch casts
    it (lists of tensors element by element). A buffer not named unshaped holds one value per
    element of param, so it must have param's shape."""
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_like(v, param, key, index, unshaped, owner) for v in value)
    if not isinstance(value, Tensor):
        return value
    if not unshaped:
        if value.shape != param.shape:
            raise ValueError(f"{owner}.load_state_dict: loaded state dict has a {key!r} of shape "
                             f"{list(value.shape)} for parameter {index} of shape {list(param.shape)}")
        if value.dtype.is_floating_point != param.dtype.is_floating_point:
            raise ValueError(f"{owner}.load_state_dict: loaded state dict has a {key!r} of dtype "
                             f"{value.dtype.name} for parameter {index} of dtype {param.dtype.name}")
    value = value.detach()
    if key != "step" and value.dtype.is_floating_point:
        value = value.to(param.device, param.dtype)
    else:
        value = value.to(param.device)
    return Tensor._make(value._b.copy(value._data), value._b, False, None, [0])


def _check_hyper(name, value, low=0.0):
    if not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


def _run_row(b, p, g, *state, row=None, scalars=None, scratch=None):
    b.update_step(row, scalars, p, *state, g, scratch=scratch)


def _described(t):
    if not isinstance(t, Tensor):
        return f"a {type(t).__name__}"
    return f"{list(t.shape)} {t.dtype.name} on {t._b.name}"


def zeros_like(p):
    """A state tensor of zeros like p (no graph)."""
    b = p._b
    return Tensor._make(b.full(p.shape, 0, p.dtype), b, False, None, [0])


def sign(group):
    """-1 under `maximize`, else 1: the factor of the gradient an update follows."""
    return -1.0 if group["maximize"] else 1.0


def lerp_scalars(w):
    """(w, 1 - w, which end): torch's lerp(start, end, w) computes from the end it is exact at."""
    return w, 1 - w, abs(w) < 0.5
