"""tc.optim against torch 2.13 (CPU): identical start and gradients, parameters compared after every step."""
import math

import numpy as np
import pytest
import torch

import tinygrad_chain as tc
from helpers import to_np

SHAPES = [(4, 3), (3,), (2, 2, 2)]
SCALES = [1.0, 3.0, 0.1, 2.0, 0.05, 1.0, 4.0]  # varying gradient sizes exercise amsgrad's running max


def _params(rng, shapes=SHAPES, dtype=np.float32):
    inits = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return ([tc.tensor(a, requires_grad=True) for a in inits],
            [torch.tensor(a, requires_grad=True) for a in inits])


def _set_grads(ours, theirs, rng, scale):
    for p, q in zip(ours, theirs):
        g = (rng.standard_normal(p.shape) * scale).astype(to_np(p).dtype)
        p.grad = tc.tensor(g, device=p.device)
        q.grad = torch.tensor(g)


def _follow(ours, theirs, opt, topt, rng, steps=len(SCALES), rtol=1e-5, atol=1e-6):
    for step in range(steps):
        _set_grads(ours, theirs, rng, SCALES[step % len(SCALES)])
        opt.step()
        topt.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(to_np(p), q.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"parameter {i} after step {step + 1}")


SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
               dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, momentum=0.8, weight_decay=0.05),
               dict(lr=0.1, weight_decay=0.1), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
               dict(lr=0.1, momentum=0.5, maximize=True)]
ADAM_CONFIGS = [dict(), dict(lr=0.01, betas=(0.8, 0.9)), dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, amsgrad=True),
                dict(lr=0.02, amsgrad=True, weight_decay=0.05), dict(lr=0.01, maximize=True),
                dict(lr=0.01, betas=(0.3, 0.999), eps=1e-6)]  # beta1 < 0.5: torch's other lerp form
ADAMW_CONFIGS = [dict(), dict(lr=0.01, weight_decay=0.1), dict(lr=0.05, amsgrad=True), dict(lr=0.01, weight_decay=0)]
RMSPROP_CONFIGS = [dict(), dict(lr=0.01, momentum=0.9), dict(lr=0.01, centered=True),
                   dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1), dict(lr=0.01, alpha=0.9, maximize=True)]
ADAGRAD_CONFIGS = [dict(), dict(lr=0.1, lr_decay=0.1), dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
                   dict(lr=0.1, eps=1e-6, maximize=True)]

CASES = ([("SGD", c) for c in SGD_CONFIGS] + [("Adam", c) for c in ADAM_CONFIGS] +
         [("AdamW", c) for c in ADAMW_CONFIGS] + [("RMSprop", c) for c in RMSPROP_CONFIGS] +
         [("Adagrad", c) for c in ADAGRAD_CONFIGS])


@pytest.mark.parametrize("name,config", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, config, rng):
    ours, theirs = _params(rng)
    _follow(ours, theirs, getattr(tc.optim, name)(ours, **config), getattr(torch.optim, name)(theirs, **config), rng)


BIG_CASES = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
             ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, maximize=True)), ("SGD", dict(lr=0.1)),
             ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05)), ("Adam", dict(lr=0.01, maximize=True)),
             ("AdamW", dict(lr=0.01, weight_decay=0.1))]


@pytest.mark.parametrize("name,config", BIG_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BIG_CASES)])
def test_trajectory_large_params(name, config, rng):
    """Parameters big enough for the fused C++ kernels on the cpp device."""
    ours, theirs = _params(rng, [(130, 129), (129,)])
    _follow(ours, theirs, getattr(tc.optim, name)(ours, **config), getattr(torch.optim, name)(theirs, **config), rng,
            steps=4)


@pytest.mark.parametrize("name,config", CASES + BIG_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES + BIG_CASES)])
def test_float64_trajectory_is_exact(name, config, rng):
    """In float64 every hyperparameter reaches the update as the exact double (no float32 rounding on
    the way to a kernel): torch's trajectory to rtol 1e-10, small and kernel-sized parameters."""
    ours, theirs = _params(rng, SHAPES + [(130, 129)], dtype=np.float64)
    _follow(ours, theirs, getattr(tc.optim, name)(ours, **config), getattr(torch.optim, name)(theirs, **config), rng,
            rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_different_lrs(name, rng):
    ours, theirs = _params(rng)

    def groups(ps):
        extra = {"momentum": 0.9} if name != "Adam" else {"betas": (0.5, 0.9)}
        return [{"params": ps[:1], "lr": 0.1}, {"params": ps[1:], "lr": 0.01, **extra}]
    _follow(ours, theirs, getattr(tc.optim, name)(groups(ours), lr=0.05),
            getattr(torch.optim, name)(groups(theirs), lr=0.05), rng)


def test_add_param_group_matches_torch(rng):
    ours, theirs = _params(rng)
    opt, topt = tc.optim.SGD(ours[:2], lr=0.1, momentum=0.9), torch.optim.SGD(theirs[:2], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": ours[2:], "lr": 0.2})
    topt.add_param_group({"params": theirs[2:], "lr": 0.2})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert opt.param_groups[1]["momentum"] == 0.9  # defaults fill what the group leaves out
    _follow(ours, theirs, opt, topt, rng)


def test_gradients_from_backward_match_torch(rng):
    """A real loss: the gradients come from each library's own backward."""
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    ours, theirs = _params(rng, [(4, 1), (1,)])
    opt, topt = tc.optim.Adam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    tx, ty, qx, qy = tc.tensor(x), tc.tensor(y), torch.tensor(x), torch.tensor(y)
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        ((tx @ ours[0] + ours[1] - ty) ** 2).mean().backward()
        ((qx @ theirs[0] + theirs[1] - qy) ** 2).mean().backward()
        opt.step()
        topt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(to_np(p), q.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_params_without_grad_are_skipped(rng):
    ours, theirs = _params(rng)
    before = to_np(ours[1]).copy()
    opt = tc.optim.Adam(ours, lr=0.1)
    for p in (ours[0], ours[2]):
        p.grad = tc.ones_like(p)
    opt.step()
    np.testing.assert_array_equal(to_np(ours[1]), before)
    assert ours[1] not in opt.state


def test_step_is_in_place_and_reuses_state(rng):
    """The hot path writes into the existing arrays: no new parameter arrays or state tensors per step."""
    ours, _ = _params(rng)
    for make in (lambda ps: tc.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: tc.optim.Adam(ps, amsgrad=True)):
        opt = make(ours)
        arrays = [p._data for p in ours]
        for p in ours:
            p.grad = tc.ones_like(p)
        opt.step()
        state = {id(p): {k: v for k, v in opt.state[p].items()} for p in ours}
        for _ in range(3):
            opt.step()
        for p, a in zip(ours, arrays):
            assert p._data is a
            for k, v in opt.state[p].items():
                if isinstance(v, tc.Tensor):
                    assert v is state[id(p)][k], k


def test_zero_grad(rng):
    ours, _ = _params(rng)
    opt = tc.optim.SGD(ours, lr=0.1)
    for p in ours:
        p.grad = tc.ones_like(p)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not to_np(p.grad).any() for p in ours)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)


def test_step_closure_returns_loss_with_grad_enabled(rng):
    w = tc.tensor([1.0, -2.0], requires_grad=True)
    opt = tc.optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    with tc.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(to_np(w), [0.0, 0.0])


@pytest.mark.parametrize("name,config", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                                         ("RMSprop", dict(momentum=0.5, centered=True)), ("Adagrad", dict(lr=0.1))])
def test_state_dict_round_trip_is_bitwise(name, config, rng):
    ours, theirs = _params(rng)
    opt, topt = getattr(tc.optim, name)(ours, **config), getattr(torch.optim, name)(theirs, **config)
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in ours] for _ in range(6)]

    def step(ps, o, g):
        for p, a in zip(ps, g):
            p.grad = tc.tensor(a)
        o.step()
    for g in grads[:3]:
        step(ours, opt, g)
        for q, a in zip(theirs, g):
            q.grad = torch.tensor(a)
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    # torch's layout: integer parameter ids, the same state keys, the same hyperparameters
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i in sd["state"]:
        assert set(sd["state"][i]) == set(tsd["state"][i])
        for k, v in sd["state"][i].items():
            ref = tsd["state"][i][k]
            np.testing.assert_allclose(float(v) if k == "step" else to_np(v), ref.numpy(), rtol=1e-5, atol=1e-6)
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g["params"] == tg["params"]
        for k, v in g.items():
            assert tg[k] == v, k
    fresh = [tc.tensor(to_np(p), requires_grad=True) for p in ours]
    opt2 = getattr(tc.optim, name)(fresh, lr=123.0)  # hyperparameters come back from the state dict
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for g in grads[3:]:
        step(ours, opt, g)
        step(fresh, opt2, g)
    for p, q in zip(ours, fresh):
        np.testing.assert_array_equal(to_np(p), to_np(q))


def test_load_state_dict_copies_state(rng):
    ours, _ = _params(rng)
    opt = tc.optim.SGD(ours, lr=0.1, momentum=0.9)
    for p in ours:
        p.grad = tc.ones_like(p)
    opt.step()
    other = tc.optim.SGD([tc.tensor(to_np(p), requires_grad=True) for p in ours], lr=0.1, momentum=0.9)
    other.load_state_dict(opt.state_dict())
    before = to_np(other.state_dict()["state"][0]["momentum_buffer"]).copy()
    opt.step()  # must not move the other optimizer's buffers
    np.testing.assert_array_equal(to_np(other.state_dict()["state"][0]["momentum_buffer"]), before)


def test_bad_arguments():
    w = tc.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="learning rate"):
        tc.optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        tc.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        tc.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        tc.optim.Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        tc.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        tc.optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        tc.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = tc.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [dict(opt.param_groups[0], params=[0, 1])]})


# ---- learning-rate schedulers ----------------------------------------------------
def _sched_pair(make, make_torch=None, opt="SGD", groups=2, **opt_kwargs):
    opt_kwargs = opt_kwargs or ({"lr": 0.1, "momentum": 0.9} if opt == "SGD" else {"lr": 0.1})
    ps = [tc.zeros(2, requires_grad=True) for _ in range(groups)]
    qs = [torch.zeros(2, requires_grad=True) for _ in range(groups)]
    o = getattr(tc.optim, opt)([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(ps)], **opt_kwargs)
    to = getattr(torch.optim, opt)([{"params": [q], "lr": 0.1 * (i + 1)} for i, q in enumerate(qs)], **opt_kwargs)
    return o, to, make(tc.optim.lr_scheduler, o), (make_torch or make)(torch.optim.lr_scheduler, to)


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.95 ** e, lambda e: 1 / (e + 1)]),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=20),
    "OneCycleLR-3phase-linear": lambda m, o: m.OneCycleLR(o, max_lr=0.8, epochs=4, steps_per_epoch=5,
                                                          three_phase=True, anneal_strategy="linear"),
}


def _check_lrs(o, to, s, ts, what):
    for a, b in zip(s.get_last_lr(), ts.get_last_lr()):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), what
    for g, tg in zip(o.param_groups, to.param_groups):
        assert math.isclose(g["lr"], tg["lr"], rel_tol=1e-12, abs_tol=1e-15), what
        for k in ("momentum", "betas"):
            if k in g:
                assert np.allclose(g[k], tg[k], rtol=1e-12), (what, k)


@pytest.mark.parametrize("name", list(SCHEDULERS))
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_scheduler_matches_torch(name, opt):
    o, to, s, ts = _sched_pair(SCHEDULERS[name], opt=opt)
    _check_lrs(o, to, s, ts, "after construction")
    for epoch in range(19):
        o.step()
        to.step()
        s.step()
        ts.step()
        _check_lrs(o, to, s, ts, f"epoch {epoch + 1}")


def test_cosine_annealing_past_t_max_matches_torch():
    o, to, s, ts = _sched_pair(lambda m, o: m.CosineAnnealingLR(o, T_max=3))
    for epoch in range(14):
        s.step()
        ts.step()
        _check_lrs(o, to, s, ts, f"epoch {epoch + 1}")


def test_one_cycle_too_many_steps_raises():
    o, _, s, _ = _sched_pair(SCHEDULERS["OneCycleLR"])
    for _ in range(19):
        s.step()
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        s.step()
        s.step()


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=1, threshold_mode="abs"),
                                    dict(patience=2, cooldown=2, min_lr=[0.02, 0.05], threshold=0.1)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    o, to, s, ts = _sched_pair(lambda m, o: m.ReduceLROnPlateau(o, **kwargs))
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.91, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6] * 2
    for i, m in enumerate(metrics):
        s.step(m)
        ts.step(m)
        _check_lrs(o, to, s, ts, f"metric {i}")


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "CosineAnnealingLR", "OneCycleLR", "LambdaLR"])
def test_scheduler_state_dict_resumes(name):
    o, _, s, _ = _sched_pair(SCHEDULERS[name])
    o2, _, s2, _ = _sched_pair(SCHEDULERS[name])
    for _ in range(6):
        s.step()
    o2.load_state_dict(o.state_dict())
    s2.load_state_dict(s.state_dict())
    for _ in range(7):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
        assert [g["lr"] for g in o.param_groups] == [g["lr"] for g in o2.param_groups]


def test_plateau_state_dict_resumes():
    o, _, s, _ = _sched_pair(lambda m, o: m.ReduceLROnPlateau(o, patience=1))
    for m in (1.0, 1.0, 1.0):
        s.step(m)
    o2, _, s2, _ = _sched_pair(lambda m, o: m.ReduceLROnPlateau(o, patience=1))
    o2.load_state_dict(o.state_dict())
    s2.load_state_dict(s.state_dict())
    for m in (1.0, 1.0, 0.5, 0.5, 0.5):
        s.step(m)
        s2.step(m)
        assert s.get_last_lr() == s2.get_last_lr()


def test_scheduler_drives_sgd_trajectory(rng):
    ours, theirs = _params(rng)
    opt, topt = tc.optim.SGD(ours, lr=0.1, momentum=0.9), torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    s, ts = tc.optim.lr_scheduler.StepLR(opt, 2, 0.5), torch.optim.lr_scheduler.StepLR(topt, 2, 0.5)
    for step in range(6):
        _follow(ours, theirs, opt, topt, rng, steps=1)
        s.step()
        ts.step()


def test_scheduler_bad_arguments():
    o = tc.optim.SGD([tc.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        tc.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.5)
    with pytest.raises(ValueError, match="total_steps OR"):
        tc.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        tc.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=5, anneal_strategy="step")
    with pytest.raises(TypeError, match="not an Optimizer"):
        tc.optim.lr_scheduler.StepLR(object(), 2)


# ---- with tc.nn modules (once tc.nn provides Linear) ------------------------------------
needs_nn = pytest.mark.skipif(not hasattr(tc.nn, "Linear"), reason="tc.nn.Linear is not available yet")


@needs_nn
def test_module_parameters_follow_torch(rng):
    model = tc.nn.Sequential(tc.nn.Linear(4, 8), tc.nn.Tanh(), tc.nn.Linear(8, 2))
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for q, p in zip(tmodel.parameters(), model.parameters()):
            q.copy_(torch.tensor(to_np(p)))
    ours, theirs = list(model.parameters()), list(tmodel.parameters())
    _follow(ours, theirs, tc.optim.AdamW(model.parameters(), lr=0.01), torch.optim.AdamW(tmodel.parameters(),
                                                                                          lr=0.01), rng)


# ---- the fused backend steps equal the defaults composed from primitives ---------------------
@pytest.mark.parametrize("kw", [dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0),
                                dict(momentum=0.9, dampening=0.2, nesterov=False, weight_decay=0.01),
                                dict(momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.0)])
def test_backend_sgd_step_matches_composed_default(kw, rng):
    from tinygrad_chain.backends.base import Backend
    b = tc.tensor(0.0)._b
    p0, g, m0 = (rng.standard_normal((70, 300)).astype(np.float32) for _ in range(3))
    p1, p2 = b.asarray(p0.copy()), b.asarray(p0.copy())
    m1 = b.asarray(m0.copy()) if kw["momentum"] else None
    m2 = b.asarray(m0.copy()) if kw["momentum"] else None
    for _ in range(3):
        m1 = b.sgd_step(p1, b.asarray(g), m1, 0.1, **kw)
        m2 = Backend.sgd_step(b, p2, b.asarray(g), m2, 0.1, **kw)
    np.testing.assert_allclose(b.to_numpy(p1), b.to_numpy(p2), rtol=1e-5, atol=1e-6)  # float32 rounding (FMA, fused order)


@pytest.mark.parametrize("kw", [dict(weight_decay=0.0, amsgrad=False, decoupled=False, maximize=False),
                                dict(weight_decay=0.1, amsgrad=True, decoupled=False, maximize=True),
                                dict(weight_decay=0.1, amsgrad=True, decoupled=True, maximize=False)])
def test_backend_adam_step_matches_composed_default(kw, rng):
    from tinygrad_chain.backends.base import Backend
    b = tc.tensor(0.0)._b
    p0 = rng.standard_normal((70, 300)).astype(np.float32)
    states = [[b.asarray(p0.copy())] + [b.asarray(np.zeros_like(p0)) for _ in range(3)] for _ in range(2)]
    for step in range(1, 4):
        g = b.asarray((rng.standard_normal(p0.shape) * SCALES[step]).astype(np.float32))
        for fn, (p, m, v, vmax) in zip((b.adam_step, lambda *a, **k: Backend.adam_step(b, *a, **k)), states):
            fn(p, g, m, v, vmax, step, 0.01, 0.9, 0.999, 1e-8, **kw)
    for a, c in zip(*states):
        np.testing.assert_allclose(b.to_numpy(a), b.to_numpy(c), rtol=1e-5, atol=1e-6)  # float32 rounding (FMA, fused order)


# ---- every row of formulas.UPDATES: the in-place code compiled per variant equals the row's reference ----
def _variants(u, rng):
    """Scalar sets for row u: flags both ways, the identity values (a weight decay or momentum of 0, a
    factor of 1, a sign of -1) and plain numbers."""
    flags = [s for s in u.scalars if s in ("init", "nesterov", "lerp_up", "amsgrad", "centered", "has_momentum",
                                           "tractable", "averaging")]
    for k in range(4):
        values = {s: float(rng.choice([1.0, 0.3, 0.9]) if k else rng.uniform(0.05, 0.95)) for s in u.scalars}
        values.update({s: float(rng.choice([0.0, 0.1])) for s in ("wd", "l2", "momentum") if s in values and k})
        values.update({s: float(rng.choice([1.0, -1.0])) for s in ("sign",) if s in values})
        values.update({f: bool((k >> i) & 1) if k < 3 else bool(i % 2) for i, f in enumerate(flags)})
        if "lo" in values:
            values["lo"], values["hi"] = 0.01, 2.0
        yield tuple(values[s] for s in u.scalars)


@pytest.mark.parametrize("row", [u.name for u in __import__("tinygrad_chain.backends.formulas").backends.formulas.UPDATES])
def test_every_update_row_in_place_equals_its_reference(row, rng):
    """backends/xp_optim.py's compiled code (numpy, and the cpp device's small parameters) against the
    row evaluated with fresh arrays (Compositions.update_step), float64, bit for bit."""
    from tinygrad_chain.backends import formulas
    from tinygrad_chain.backends.base import Backend
    b = tc.tensor(0.0)._b
    u = formulas.UPDATE[row]
    compared = 0
    for scalars in _variants(u, rng):
        start = [rng.uniform(0.1, 1.1, (5, 7)) for _ in u.state + u.inputs]
        ours, ref = ([b.asarray(a.copy()) for a in start] for _ in range(2))
        with np.errstate(invalid="ignore"):
            for _ in range(3):
                b.update_step(row, scalars, *ours, scratch={})
                Backend.update_step(b, row, scalars, *ref)
        if not all(np.isfinite(b.to_numpy(c)).all() for c in ref):
            continue  # (x * 0 is 0 in place, where a zero weight decay skips a NaN parameter as torch does)
        compared += 1
        for name, a, c in zip(u.state, ours, ref):
            np.testing.assert_array_equal(b.to_numpy(a), b.to_numpy(c), err_msg=f"{row} {name} {scalars}")
        assert any(not np.array_equal(b.to_numpy(a), s) for a, s in zip(ours, start))  # it did update
    assert compared >= 2
