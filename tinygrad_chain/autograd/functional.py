"""torch.autograd.functional: jacobian, hessian, vjp, jvp, vhp, hvp of a function of tensors.

Each is reverse mode over the tape (grad with create_graph where a second derivative is taken); jvp uses the
double-vjp trick (the vjp is linear in its cotangent, so its vjp is the jvp). Inputs and outputs may be one
tensor or a tuple, and results nest as torch's do: jacobian[i][j] is d output i / d input j.
"""
from tinygrad_chain.autograd.tensor_core import TensorCore

from .differentiate import grad
from .grad_mode import enable_grad


def _tuple(x):
    single = isinstance(x, TensorCore)
    return ((x,) if single else tuple(x)), single


def _inputs(inputs, create_graph):
    xs, single = _tuple(inputs)
    # fresh leaves: the caller's tensors keep their graph and .grad untouched
    return tuple((x if create_graph and x.requires_grad else x.detach()).requires_grad_(True) for x in xs), single


def _grads(outputs, xs, cotangents, create_graph):
    used = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not used:
        return tuple(x.new_zeros(x.shape) for x in xs)
    gs = grad([o for o, _ in used], xs, [c for _, c in used], retain_graph=True, create_graph=create_graph,
              allow_unused=True)
    return tuple(x.new_zeros(x.shape) if g is None else g for g, x in zip(gs, xs))


def _result(value, single):
    return value[0] if single else value


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    with enable_grad():
        xs, single_in = _inputs(inputs, create_graph)
        out, single_out = _tuple(func(*xs))
        vs = tuple(o.new_ones(o.shape) for o in out) if v is None else _tuple(v)[0]
        gs = _grads(out, xs, vs, create_graph)
    detach = (lambda t: t if create_graph else t.detach())
    return _result(tuple(detach(o) for o in out), single_out), _result(tuple(detach(g) for g in gs), single_in)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    with enable_grad():
        xs, single_in = _inputs(inputs, create_graph)
        out, single_out = _tuple(func(*xs))
        vs = tuple(x.new_ones(x.shape) for x in xs) if v is None else _tuple(v)[0]
        dummies = tuple(o.new_zeros(o.shape).requires_grad_(True) for o in out)
        gs = _grads(out, xs, dummies, True)  # linear in the dummies: its vjp with v is the jvp
        jv = _grads(gs, dummies, vs, create_graph)
    detach = (lambda t: t if create_graph else t.detach())
    return _result(tuple(detach(o) for o in out), single_out), _result(tuple(detach(j) for j in jv), single_out)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    with enable_grad():
        xs, single_in = _inputs(inputs, create_graph)
        out, single_out = _tuple(func(*xs))
        rows = []
        for o in out:
            flat = o.reshape(-1)
            per_input = [[] for _ in xs]
            for k in range(flat.shape[0]):
                onehot = flat.new_zeros(flat.shape)
                onehot[k] = 1.0
                for lst, g in zip(per_input, _grads([flat], xs, [onehot], create_graph)):
                    lst.append(g if create_graph else g.detach())
            rows.append(tuple(_stack(lst, o, x) for lst, x in zip(per_input, xs)))
    return _result(tuple(_result(r, single_in) for r in rows), single_out)


def _stack(grads, out, x):
    """The rows d out[k] / d x, as a tensor of shape out.shape + x.shape."""
    whole = x.new_zeros((len(grads),) + tuple(x.shape))
    for k, g in enumerate(grads):
        whole[k] = g
    return whole.reshape(tuple(out.shape) + tuple(x.shape))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    xs, single_in = _tuple(inputs)

    def gradient(*args):
        out = func(*args)
        if out.numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to hessian should contain a single "
                               f"element, got {list(out.shape)}")
        gs = _grads((out.reshape(()),), args, (out.new_ones(()),), True)
        return gs[0] if single_in else gs

    return jacobian(gradient, inputs, create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    with enable_grad():
        xs, single_in = _inputs(inputs, create_graph)
        out = func(*xs)
        gs = _grads((out.reshape(()),), xs, (out.new_ones(()),), True)
        vs = tuple(x.new_ones(x.shape) for x in xs) if v is None else _tuple(v)[0]
        hv = _grads(gs, xs, vs, create_graph)
    detach = (lambda t: t if create_graph else t.detach())
    return detach(out), _result(tuple(detach(h) for h in hv), single_in)


hvp = vhp  # the Hessian of a scalar function is symmetric: v^T H = (H v)^T
