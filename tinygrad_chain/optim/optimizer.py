"""The Optimizer base class: param_groups, per-parameter state, state_dict.

Each parameter's update is an in-place op (ops/inplace.py: update_): the parameter, its
gradient (and the state a fused step reads) are checked for one device, dtype and shape before
anything is written, and the parameter's version counter moves. Updates run on the backend
arrays through fused backend methods (``sgd_step``, ``adam_step``, ...), with no graph and no
new Tensor per step, so the C++ backend can override the hot loop.
"""
import warnings
from collections import defaultdict

from tinygrad_chain.autograd import enable_grad
from tinygrad_chain.ops.inplace import update_
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

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._step(p, p.grad, group, self.state[p])
        return loss

    def _step(self, p, grad, group, state):
        """p's update as an in-place op: checked against grad, then written, its version moved.
        An optimizer with one fused backend step overrides this and passes its state too."""
        update_(f"{type(self).__name__}.step", _run_update, (p, grad), (0,), self, p, grad, group, state)

    def _update(self, p, grad, group, state):
        """Update p in place from grad; subclasses implement it (or _step)."""
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
            state[p] = {k: _cast_like(v, p, k, key, k in self._unshaped_state) for k, v in values.items()}
        self.state = state
        self.param_groups = [dict({k: v for k, v in s.items() if k != "params"}, params=g["params"])
                             for g, s in zip(groups, saved_groups)]

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)


def _cast_like(value, param, key, index, unshaped=False):
    """A private copy of a state tensor, on param's device and (if floating) dtype, as torch casts
    it (lists of tensors element by element). A buffer not named unshaped holds one value per
    element of param, so it must have param's shape."""
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_like(v, param, key, index, unshaped) for v in value)
    if not isinstance(value, Tensor):
        return value
    if not unshaped:
        if value.shape != param.shape:
            raise ValueError(f"loaded state dict has a {key!r} of shape {list(value.shape)} for parameter "
                             f"{index} of shape {list(param.shape)}")
        if value.dtype.is_floating_point != param.dtype.is_floating_point:
            raise ValueError(f"loaded state dict has a {key!r} of dtype {value.dtype.name} for parameter "
                             f"{index} of dtype {param.dtype.name}")
    value = value.detach()
    if key != "step" and value.dtype.is_floating_point:
        value = value.to(param.device, param.dtype)
    else:
        value = value.to(param.device)
    return Tensor._make(value._b.copy(value._data), value._b, False, None, [0])


def _check_hyper(name, value, low=0.0):
    if not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


def _run_update(b, x, g, optimizer, p, grad, group, state):
    optimizer._update(p, grad, group, state)
