"""The worked chain-rule examples in ../shared/seeds reproduce their numbers."""
import math

import numpy as np
import pytest
from helpers import assert_close

import tinygrad_chain as tc


@pytest.mark.parametrize("dtype", [tc.float32, tc.float64], ids=["float32", "float64"])
def test_mygrad_example_1(dtype):
    # seed 003: p = y x^2, q = 2x + y, g = p^2 - q^3 at x=3, y=1
    x = tc.tensor(3.0, dtype=dtype, requires_grad=True)
    y = tc.tensor(1.0, dtype=dtype, requires_grad=True)
    with tc.autograd.retain_grads():
        p = y * x ** 2
        q = 2 * x + y
        g = p ** 2 - q ** 3
    g.backward()
    assert p.grad.item() == 18.0 and q.grad.item() == -147.0
    assert x.grad.item() == -186.0 and y.grad.item() == 15.0
    for t in (p, q, x, y):
        assert t.grad.dtype is dtype


@pytest.mark.parametrize("dtype", [tc.float32, tc.float64], ids=["float32", "float64"])
def test_mygrad_example_2(dtype):
    # seed 003: p = 4y - x, q = 3xy - 4y, g = p^2 q at x=5, y=4
    x = tc.tensor(5.0, dtype=dtype, requires_grad=True)
    y = tc.tensor(4.0, dtype=dtype, requires_grad=True)
    with tc.autograd.retain_grads():
        p = 4 * y - x
        q = 3 * x * y - 4 * y
        g = p ** 2 * q
    g.backward()
    assert (p.grad.item(), q.grad.item(), x.grad.item(), y.grad.item()) == (968.0, 121.0, 484.0, 5203.0)


def test_intermediate_grads_need_retain():
    # outside retain_grads(), an interior tensor's .grad stays None (as torch)
    x = tc.tensor(3.0, requires_grad=True)
    p = x ** 2
    (p * 2).backward()
    assert p.grad is None and x.grad.item() == 12.0


def test_sin_of_square():
    # seed 002: y = sin(x^2), dy/dx = cos(x^2) 2x at x = 3
    x = tc.tensor(3.0, dtype=tc.float64, requires_grad=True)
    y = (x ** 2).sin()
    y.backward()
    assert x.grad.item() == pytest.approx(math.cos(9.0) * 6.0, rel=1e-12)
    # float32 too, with float32 gradients
    x32 = tc.tensor(3.0, requires_grad=True)
    (x32 * x32).sin().backward()
    assert x32.grad.dtype is tc.float32
    assert x32.grad.item() == pytest.approx(math.cos(9.0) * 6.0, rel=1e-5)


@pytest.mark.parametrize("t0", [0.3, 1.0, -0.7])
def test_multivariable_chain(t0):
    # seed 002: z = x^2 + sin(xy), x = t^2, y = e^t;
    # dz/dt = 2x(2t) + [cos(xy) y (2t) + cos(xy) x e^t]
    # (the seed's text writes "y (2x)" for the dx/dt factor; dx/dt = 2t, as the seed's own sympy check shows)
    t = tc.tensor(t0, dtype=tc.float64, requires_grad=True)
    x = t ** 2
    y = t.exp()
    z = x ** 2 + (x * y).sin()
    z.backward()
    xv, yv = t0 ** 2, math.exp(t0)
    expected = 2 * xv * (2 * t0) + (math.cos(xv * yv) * yv * (2 * t0) + math.cos(xv * yv) * xv * math.exp(t0))
    assert t.grad.item() == pytest.approx(expected, rel=1e-12)
    # and vs the closed form of z(t) = t^4 + sin(t^2 e^t)
    closed = 4 * t0 ** 3 + math.cos(t0 ** 2 * math.exp(t0)) * (2 * t0 + t0 ** 2) * math.exp(t0)
    assert t.grad.item() == pytest.approx(closed, rel=1e-12)


def _numpy_backprop():
    # seed 002's hand-written NumPy backprop, transcribed
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def sigmoid_prime(z):
        s = sigmoid(z)
        return s * (1 - s)

    x = np.array([1.0]); W1 = np.array([[0.5]]); b1 = np.array([0.1])  # noqa: E702
    z1 = W1 @ x + b1; a1 = sigmoid(z1)  # noqa: E702
    W2 = np.array([[1.5]]); b2 = np.array([0.2])  # noqa: E702
    z2 = W2 @ a1 + b2; y_hat = sigmoid(z2)  # noqa: E702
    y_true = np.array([0.8])
    loss = 0.5 * (y_hat - y_true) ** 2
    dL_dz2 = (y_hat - y_true) * sigmoid_prime(z2)
    dL_dW2 = dL_dz2 * a1.T
    dL_db2 = dL_dz2
    dL_da1 = W2.T @ dL_dz2
    dL_dz1 = dL_da1 * sigmoid_prime(z1)
    dL_dW1 = dL_dz1 * x.T
    dL_db1 = dL_dz1
    return loss, dL_dW1, dL_db1, dL_dW2, dL_db2


@pytest.mark.parametrize("dtype", [tc.float32, tc.float64], ids=["float32", "float64"])
def test_two_layer_sigmoid_network(dtype):
    loss_np, dW1, db1, dW2, db2 = _numpy_backprop()
    x = tc.tensor([1.0], dtype=dtype)
    W1 = tc.tensor([[0.5]], dtype=dtype, requires_grad=True)
    b1 = tc.tensor([0.1], dtype=dtype, requires_grad=True)
    W2 = tc.tensor([[1.5]], dtype=dtype, requires_grad=True)
    b2 = tc.tensor([0.2], dtype=dtype, requires_grad=True)
    a1 = (W1 @ x + b1).sigmoid()
    y_hat = (W2 @ a1 + b2).sigmoid()
    loss = (0.5 * (y_hat - tc.tensor([0.8], dtype=dtype)) ** 2).sum()
    loss.backward()
    tol = dict(atol=1e-7, rtol=1e-6) if dtype is tc.float32 else dict(atol=1e-15, rtol=1e-12)
    assert_close(loss, loss_np.sum(), **tol)
    for t, ref in ((W1, dW1.reshape(1, 1)), (b1, db1), (W2, dW2.reshape(1, 1)), (b2, db2)):
        assert t.grad.shape == t.shape and t.grad.dtype is dtype
        assert_close(t.grad, ref, **tol)


@pytest.mark.parametrize("x0", [0.4, 1.3])
def test_second_derivative_of_composition(x0):
    # seed 002: (f o g)'' = f''(g) g'^2 + f'(g) g''; f = sin, g = x^3 + x
    x = tc.tensor(x0, dtype=tc.float64, requires_grad=True)
    y = (x ** 3 + x).sin()
    (d1,) = tc.autograd.grad(y, x, create_graph=True)
    (d2,) = tc.autograd.grad(d1, x)
    g, g1, g2 = x0 ** 3 + x0, 3 * x0 ** 2 + 1, 6 * x0
    assert d1.item() == pytest.approx(math.cos(g) * g1, rel=1e-12)
    assert d2.item() == pytest.approx(-math.sin(g) * g1 ** 2 + math.cos(g) * g2, rel=1e-12)
    # f = exp, g = sigmoid: through the fused sigmoid backward op
    x = tc.tensor(x0, dtype=tc.float64, requires_grad=True)
    y = x.sigmoid().exp()
    (d1,) = tc.autograd.grad(y, x, create_graph=True)
    d1.backward()
    s = 1 / (1 + math.exp(-x0))
    gp, gpp = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    assert x.grad.item() == pytest.approx(math.exp(s) * gp ** 2 + math.exp(s) * gpp, rel=1e-12)
