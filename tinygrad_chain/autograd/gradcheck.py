"""Finite-difference checks of first and second derivatives (float64)."""
from .differentiate import grad
from .grad_mode import no_grad
from .tensor_core import TensorCore


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _flat_outputs(func, inputs):
    outs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, TensorCore)]
    return outs


def _randn_like(t):
    """Standard normal values shaped like t, of its dtype and device (the global RNG), requiring grad."""
    return TensorCore.make(t._b.randn(t._data.shape, t.dtype), t._b, False, None, [0]).requires_grad_()


def _numerical_jacobian(func, inputs, i, eps):
    """Rows: elements of input i; columns: elements of all outputs (central differences)."""
    x = inputs[i]
    base = x.detach().clone().requires_grad_(x.requires_grad)  # func may differentiate (gradgradcheck)
    flat = base.detach().reshape(-1)

    def evaluate(value, k):
        with no_grad():
            flat[k] = value
        # copies: an output may be a view of `base`, which the next step changes
        return [o.detach().clone() for o in _flat_outputs(func, inputs[:i] + (base,) + inputs[i + 1:])]

    rows = []
    for k in range(flat.numel()):
        old = flat[k].item()
        plus = evaluate(old + eps, k)
        minus = evaluate(old - eps, k)
        evaluate(old, k)
        rows.append([((p.double() - m.double()) / (2 * eps)).detach().reshape(-1) for p, m in zip(plus, minus)])
    return rows


def _analytic_jacobian(outputs, inputs, i_wanted):
    def zeros_like(t):
        return t.new_zeros(t.shape)

    cols = []  # one entry per output element: gradient w.r.t. input i_wanted
    for o in outputs:
        flat_count = o.numel()
        if not o.requires_grad:  # a constant output (e.g. a zero first derivative): zero Jacobian
            cols += [zeros_like(inputs[i_wanted]).reshape(-1) for _ in range(flat_count)]
            continue
        for k in range(flat_count):
            seed = zeros_like(o).reshape(-1)
            seed[k] = 1.0
            grads = grad(outputs=[o], inputs=[inputs[i_wanted]], grad_outputs=[seed.reshape(o.shape)],
                                  retain_graph=True, allow_unused=True)
            g = grads[0]
            cols.append(zeros_like(inputs[i_wanted]).reshape(-1) if g is None else g.detach().reshape(-1))
    return cols


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """Compare autograd's gradients of func with central differences.

    Use float64 inputs: float32 differences are too coarse to compare.
    """
    inputs = _as_tuple(inputs)
    outputs = _flat_outputs(func, inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, TensorCore) and x.requires_grad):
            continue
        numerical = _numerical_jacobian(func, inputs, i, eps)
        analytic = _analytic_jacobian(outputs, inputs, i)
        for k, row in enumerate(numerical):
            num = [v.item() for part in row for v in part.reshape(-1)] if row else []
            ana = [col[k].item() for col in analytic]
            for j, (a, n) in enumerate(zip(ana, num)):
                if abs(a - n) > atol + rtol * abs(n) or a != a:
                    if not raise_exception:
                        return False
                    raise GradcheckError(
                        f"Jacobian mismatch for output element {j} with respect to input {i} (shape "
                        f"{list(x.shape)}), element {k}: numerical {n:.8g}, analytical {a:.8g}")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """gradcheck of the first derivative: proves second derivatives are right."""
    inputs = _as_tuple(inputs)
    diff_inputs = [x for x in inputs if isinstance(x, TensorCore) and x.requires_grad]
    outputs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = tuple(_randn_like(o) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_derivative(*args):
        xs, gos = args[:n], args[n:]
        outs = _flat_outputs(func, xs)
        wanted = [x for x in xs if isinstance(x, TensorCore) and x.requires_grad]
        grads = grad(outs, wanted, grad_outputs=list(gos), create_graph=True, allow_unused=True)
        return tuple(g if g is not None else w.detach() * 0.0 for g, w in zip(grads, wanted))

    if not diff_inputs:
        return True
    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
