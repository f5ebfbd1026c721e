"""Every optimizer's step checks each parameter's gradient and state before any parameter changes
(tinygrad_chain/optim/optimizer.py: Optimizer._check): a state tensor of another dtype, shape or
device, a state loaded from another optimizer's state_dict, or a loaded buffer of another shape is
refused with the optimizer, the parameter's index and both shapes and dtypes named, and nothing
changes; the optimizer, its state repaired, then follows torch step for step."""
import numpy as np
import pytest
import torch
from test_optim import _params, _set_grads

import tinygrad_chain as tc
from helpers import to_np

CONFIGS = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.1, amsgrad=True),
           "AdamW": dict(lr=0.1, weight_decay=0.1), "Adagrad": dict(lr=0.1), "Adadelta": dict(weight_decay=0.1),
           "Adamax": dict(lr=0.01), "ASGD": dict(lr=0.05, t0=1), "NAdam": dict(lr=0.01),
           "RAdam": dict(lr=0.01), "RMSprop": dict(lr=0.01, centered=True, momentum=0.5), "Rprop": dict()}
SHAPES = [(4, 3), (5,)]


def _pair(name, rng):
    ours, theirs = _params(rng, SHAPES)
    return ours, theirs, getattr(tc.optim, name)(ours, **CONFIGS[name]), getattr(torch.optim, name)(theirs,
                                                                                                    **CONFIGS[name])


def _snapshot(ours, opt):
    return ([to_np(p).copy() for p in ours], [p._version[0] for p in ours],
            [{k: to_np(v).copy() if isinstance(v, tc.Tensor) else v for k, v in opt.state[p].items()} for p in ours])


def _assert_unchanged(before, ours, opt):
    values, versions, states = _snapshot(ours, opt)
    for a, b in zip(values, before[0]):
        np.testing.assert_array_equal(a, b)
    assert versions == before[1]
    for s, t in zip(states, before[2]):
        assert s.keys() == t.keys()
        for k in s:
            np.testing.assert_array_equal(s[k], t[k])


def _step_both(ours, theirs, opt, topt, rng, scale=1.0):
    _set_grads(ours, theirs, rng, scale)
    opt.step()
    topt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(to_np(p), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def _shaped_key(opt, p):
    return next(k for k, v in opt.state[p].items() if isinstance(v, tc.Tensor) and v.shape == p.shape)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_state_tensor_of_another_dtype_is_refused_before_any_parameter_changes(name, rng):
    ours, theirs, opt, topt = _pair(name, rng)
    _step_both(ours, theirs, opt, topt, rng)
    key = _shaped_key(opt, ours[1])
    good = opt.state[ours[1]][key]
    opt.state[ours[1]][key] = tc.tensor(to_np(good).astype(np.float64))
    _set_grads(ours, theirs, rng, 2.0)
    before = _snapshot(ours, opt)
    with pytest.raises(RuntimeError, match=rf"{name}\.step: parameter 1 is \[5\] float32 on \w+, but its state "
                                           rf"'{key}' is \[5\] float64 on \w+"):
        opt.step()
    _assert_unchanged(before, ours, opt)  # parameter 0 included: checked all before any update
    opt.state[ours[1]][key] = good
    for scale in (2.0, 0.5):
        _step_both(ours, theirs, opt, topt, rng, scale)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_state_tensor_of_another_shape_is_refused(name, rng):
    ours, theirs, opt, topt = _pair(name, rng)
    _step_both(ours, theirs, opt, topt, rng)
    key = _shaped_key(opt, ours[1])
    opt.state[ours[1]][key] = tc.zeros(6)
    before = _snapshot(ours, opt)
    with pytest.raises(RuntimeError, match=rf"{name}\.step: parameter 1 is \[5\] float32 on \w+, but its state "
                                           rf"'{key}' is \[6\] float32 on \w+"):
        opt.step()
    _assert_unchanged(before, ours, opt)


@pytest.mark.parametrize("name", sorted(set(CONFIGS) - {"SGD"}))  # (SGD makes a missing buffer, as torch)
def test_a_state_dict_of_another_optimizer_is_refused_at_step(name, rng):
    ours, theirs, opt, topt = _pair(name, rng)
    other = "Rprop" if name != "Rprop" else "Adam"
    source, _, sopt, _ = _pair(other, rng)
    _set_grads(source, [torch.zeros(s) for s in SHAPES], rng, 1.0)
    sopt.step()
    opt.load_state_dict({"state": sopt.state_dict()["state"], "param_groups": opt.state_dict()["param_groups"]})
    _set_grads(ours, theirs, rng, 1.0)
    before = _snapshot(ours, opt)
    with pytest.raises(KeyError, match=rf"{name}\.step: the state of parameter 0 has no '\w+' \(it has \[.*\]\); "
                                       rf"a loaded state_dict must come from a {name}"):
        opt.step()
    _assert_unchanged(before, ours, opt)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_loaded_buffer_of_another_shape_names_the_optimizer(name, rng):
    ours, theirs, opt, topt = _pair(name, rng)
    _step_both(ours, theirs, opt, topt, rng)
    sd = opt.state_dict()
    key = _shaped_key(opt, ours[1])
    sd["state"][1][key] = tc.zeros(2, 3)
    fresh, _ = _params(rng, SHAPES)
    opt2 = getattr(tc.optim, name)(fresh, **CONFIGS[name])
    with pytest.raises(ValueError, match=rf"{name}\.load_state_dict: loaded state dict has a '{key}' of shape "
                                         rf"\[2, 3\] for parameter 1 of shape \[5\]"):
        opt2.load_state_dict(sd)


def _mangled(sd, how):
    if how == "no_state":
        return {"param_groups": sd["param_groups"]}
    if how == "groups_str":
        return {"state": sd["state"], "param_groups": "x"}
    if how == "group_without_params":
        return {"state": sd["state"], "param_groups": [{"lr": 1.0}]}
    if how == "entry_not_a_dict":
        return {"state": {0: "x", 1: sd["state"][1]}, "param_groups": sd["param_groups"]}
    return how  # None, a list


@pytest.mark.parametrize("how", ["no_state", "groups_str", "group_without_params", "entry_not_a_dict", None, []])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_a_state_dict_of_another_layout_is_refused_before_anything_loads(name, how, rng):
    ours, theirs, opt, topt = _pair(name, rng)
    _step_both(ours, theirs, opt, topt, rng)
    groups = [dict(g) for g in opt.param_groups]
    bad = _mangled(opt.state_dict(), how)
    before = _snapshot(ours, opt)
    with pytest.raises(TypeError, match=rf"^{name}\.load_state_dict: expected "):
        opt.load_state_dict(bad)
    _assert_unchanged(before, ours, opt)
    assert [dict(g) for g in opt.param_groups] == groups
    _step_both(ours, theirs, opt, topt, rng)  # still in step with torch


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_read_only_parameter_is_refused_before_any_parameter_changes(name, rng):
    """A parameter sharing a non-writable NumPy array (tc.from_numpy) is found by the step's checks:
    NumPy's own error would come after the parameters before it were updated."""
    ours, theirs, opt, topt = _pair(name, rng)
    _step_both(ours, theirs, opt, topt, rng)
    frozen = to_np(ours[1]).copy()
    frozen.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        ours[1].data = tc.from_numpy(frozen)
    _set_grads(ours, theirs, rng, 1.0)
    before = _snapshot(ours, opt)
    with pytest.raises(RuntimeError, match=rf"^{name}\.step: unsupported operation: parameter 1 \(\[5\] float32 on "
                                           rf"\w+\) is read-only memory"):
        opt.step()
    _assert_unchanged(before, ours, opt)
