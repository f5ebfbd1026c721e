"""The fused LSTM step.

An LSTM step written with separate ops records about fourteen nodes, and the
backward of its four gate slices builds four zero-padded gradients that are
then summed. As one op it records one node, and its VJP writes the gates'
gradient at once. The first-order VJP runs the backend's fused kernel on what
the forward saved; with create_graph it is the same formula in Tensor ops.
"""
from tinygrad_chain.autograd.grad_mode import state

from .registry import Op, constant, register


@register
class LstmCell(Op):
    """lstm_cell(gates (..., 4H), c (..., H)) -> (2, ..., H): [h', c'] with c' = f*c + i*g,
    h' = o*tanh(c'), and i, f, g, o the sigmoid/sigmoid/tanh/sigmoid of the gates' quarters."""
    name = "lstm_cell"
    backward_name = "LstmCellBackward"
    saves_inputs = True
    saves_extra = True  # the activated gates and tanh(c')

    def check(self, gates, c):
        if gates.shape[:-1] != c.shape[:-1] or gates.shape[-1] != 4 * c.shape[-1]:
            raise RuntimeError(f"lstm_cell: gates {list(gates.shape)} must be the cell's shape {list(c.shape)} "
                               f"with 4 times its last size")

    def forward(self, b, gates, c):
        return b.lstm_cell(gates, c)

    def vjp(self, ctx, grad):
        gates, c = ctx.inputs
        if not state.enabled:
            b = grad._b
            d_gates, d_c = b.lstm_cell_backward(grad.data, c.data, *ctx.saved)
            return constant(d_gates, b), constant(d_c, b)
        from tinygrad_chain.functions import cat
        hidden = c.shape[-1]
        s = gates.sigmoid()
        i, f, o = (s[..., k * hidden:(k + 1) * hidden] for k in (0, 1, 3))
        g = gates[..., 2 * hidden:3 * hidden].tanh()
        tc = (f * c + i * g).tanh()
        gh, gc = grad[0], grad[1]
        dc = gc + gh * o * (1 - tc * tc)
        d_gates = cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g), gh * tc * o * (1 - o)], -1)
        return d_gates, dc * f
