"""In-place writes into views, against torch: the write changes the view's base too, so a
gradient through the base reaches what was written (torch's CopySlices). Before, the base kept
its old graph: y = x * 1; y[0].mul_(3); y.sum() gave x a gradient of 1 at row 0, not 3. And a view
taken before its base was written reads the base as it is now (it kept its old graph too)."""
import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc

torch = pytest.importorskip("torch")

D = np.arange(12.0).reshape(3, 4) / 7 - 0.5

CASES = {
    "method_on_a_row": lambda m, x: (lambda y: (y[0].mul_(3), (y * y).sum()))(x * 1),
    "copy_into_a_buffer": lambda m, x: (lambda buf: (buf[:, 1:3].copy_(x[:, :2] * 2), (buf ** 2).sum()))(
        m.zeros(3, 4, dtype=m.float64)),
    "rows_of_a_buffer": lambda m, x: (lambda buf: (buf[0].copy_(x[0]), buf[2].copy_(x[1] * x[2]), buf.sum()))(
        m.zeros(3, 4, dtype=m.float64)),
    "narrow_fill": lambda m, x: (lambda y: (y.narrow(1, 1, 2).fill_(0.5), (y * x).sum()))(x * 2),
    "transposed": lambda m, x: (lambda y: (y.t()[1].add_(x[0, :3]), (y * y).sum()))(x * 1),
    "view_of_a_view": lambda m, x: (lambda y: (y[1:][:, ::2].mul_(x[:2, :2]), (y * y).sum()))(x * 1),
    "reshaped": lambda m, x: (lambda y: (y.reshape(2, 6)[1].mul_(2), (y * x).sum()))(x * 1),
    "setitem_on_a_view": lambda m, x: (lambda y: (y[1].__setitem__(2, x[0, 0] * 10), (y * y).sum()))(x * 1),
    "view_and_base_both_read": lambda m, x: (lambda y: (lambda v: (v.mul_(2), v.sum() + (y * y).sum()))(y[:, 0]))(
        x * 1),
    "detached_view": lambda m, x: (lambda y: (y.detach()[0].mul_(0), (y * y).sum()))(x * 1),
    # a view taken before its base was written reads the base as it is now (torch remakes its graph)
    "view_read_after_the_base_zeroed": lambda m, x: (lambda y: (lambda v: (y.zero_(), (v * x[1:]).sum()))(y[1:]))(
        x * 1),
    "transposed_view_after_a_row_write": lambda m, x: (lambda y: (lambda v: (y[0].mul_(2), (v * v).sum()))(y.t()))(
        x * 1),
    "overlapping_sibling_views": lambda m, x: (lambda y: (lambda a, b: (b.mul_(x[0, 1:]), (a * a).sum()))(
        y[:, :2], y[0, 1:]))(x * 1),
    "view_written_after_its_base": lambda m, x: (lambda y: (lambda v: (y.mul_(3), v.add_(x[0]), (y * y).sum()))(
        y[2]))(x * 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_inplace_write_into_a_view_reaches_the_base_graph(case):
    def run(m):
        x = m.tensor(D, dtype=m.float64, requires_grad=True)
        loss = CASES[case](m, x)[-1]
        loss.backward()
        return loss, x.grad

    (loss, grad), (t_loss, t_grad) = run(tc), run(torch)
    np.testing.assert_allclose(to_np(loss), t_loss.item(), rtol=1e-13)
    np.testing.assert_allclose(to_np(grad), t_grad.numpy(), rtol=1e-13, atol=1e-15)


def test_view_of_a_leaf_that_requires_grad_refuses_inplace_writes():
    for m in (torch, tc):
        w = m.ones(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            w[0].add_(1)
        with m.no_grad():
            w[0].add_(1)  # an initialiser's write: allowed
        assert w.detach().sum().item() == 9.0


def test_write_through_a_view_invalidates_what_saved_the_base():
    for m in (torch, tc):
        y = m.tensor(D, requires_grad=True) * 1
        z = y * y  # saves y
        y[0].add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
