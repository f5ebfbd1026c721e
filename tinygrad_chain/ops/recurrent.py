"""The fused LSTM step, and a whole LSTM layer over a sequence.

An LSTM step written with separate ops records about fourteen nodes, and the
backward of its four gate slices builds four zero-padded gradients that are
then summed. As one op it records one node, and its VJP writes the gates'
gradient at once. A layer over T steps as one op records one node instead of
T, and its backward sums the recurrent weight's T gradients as one GEMM over
the stacked steps. Each VJP is written once against ops/vjp_ops.py: first
order, the backend's loops on what the forward saved; with create_graph, the
same gradients in recorded Tensor ops.
"""
from . import vjp_ops
from .activations import SigmoidBackward, TanhBackward
from .movement import cat, stack
from .registry import Op, apply, register


@register
class LstmCell(Op):
    """lstm_cell(gates (..., 4H), c (..., H)) -> (2, ..., H): [h', c'] with c' = f*c + i*g,
    h' = o*tanh(c'), and i, f, g, o the sigmoid/sigmoid/tanh/sigmoid of the gates' quarters."""
    name = "lstm_cell"
    backward_name = "LstmCellBackward0"
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
        F = vjp_ops.of(grad)
        return F.grads(*F.lstm_cell_backward(F.read(grad), F.read(gates), F.read(c), ctx.saved))


def _cell_backward_arrays(b, grad, gates, c, saved):
    return b.lstm_cell_backward(grad, c, *saved)


def _cell_backward_recorded(grad, gates, c, saved):
    """(d gates, d c) of one step in recorded Tensor ops (the activations recomputed from gates)."""
    return _cell_vjp(gates, c, grad[0], grad[1])


vjp_ops.kernel("lstm_cell_backward", _cell_backward_arrays, _cell_backward_recorded)


def _cell_vjp(gates, c, gh, gc):
    """(d gates, d c) of one step for the gradients gh, gc of (h', c'), in recorded Tensor ops."""
    hidden = c.shape[-1]
    s = gates.sigmoid()
    i, f, o = (s[..., k * hidden:(k + 1) * hidden] for k in (0, 1, 3))
    g = gates[..., 2 * hidden:3 * hidden].tanh()
    tc = (f * c + i * g).tanh()
    dc = gc + apply(TanhBackward, gh * o, tc)  # c' reaches h' through tanh
    d_gates = cat([apply(SigmoidBackward, dc * g, i), apply(SigmoidBackward, dc * c, f), apply(TanhBackward, dc * i, g),
                   apply(SigmoidBackward, gh * tc, o)], -1)
    return d_gates, dc * f


@register
class LstmLayer(Op):
    """lstm_layer(xw (T, B, 4H), h0 (B, H), c0 (B, H), w_hh (4H, H)[, b_hh (4H,)]) -> (T + 1, B, H): the
    hidden states h_1..h_T, then the last cell state c_T, of the recurrence gates_t = xw[t] + b_hh +
    h_{t-1} @ w_hh.T (xw holds each step's input projection with its bias; b_hh is added in the loop,
    which reads xw once anyway, instead of by an op over the whole sequence)."""
    name = "lstm_layer"
    backward_name = "LstmLayerBackward0"
    saves_inputs = True
    saves_extra = True  # every step's activated gates, tanh(c_t), and the states it started from

    def check(self, xw, h0, c0, w_hh, b_hh=None):
        hidden = h0.shape[-1]
        if (xw.ndim != 3 or tuple(h0.shape) != (xw.shape[1], hidden) or tuple(c0.shape) != tuple(h0.shape)
                or tuple(w_hh.shape) != (4 * hidden, hidden) or xw.shape[2] != 4 * hidden
                or (b_hh is not None and tuple(b_hh.shape) != (4 * hidden,))):
            bias = "" if b_hh is None else f", b_hh {list(b_hh.shape)}"
            raise RuntimeError(f"lstm_layer: expected xw (T, B, 4H), h0 and c0 (B, H), w_hh (4H, H), b_hh (4H,); "
                               f"got xw {list(xw.shape)}, h0 {list(h0.shape)}, c0 {list(c0.shape)}, w_hh "
                               f"{list(w_hh.shape)}{bias}")

    def forward(self, b, xw, h0, c0, w_hh, b_hh=None):
        return b.lstm_layer(xw, h0, c0, w_hh, b_hh)

    def vjp(self, ctx, grad):
        F = vjp_ops.of(grad)
        return F.grads(*F.lstm_layer_backward(F.read(grad), *(F.read(t) for t in ctx.inputs), saved=ctx.saved))


def _layer_backward_arrays(b, grad, xw, h0, c0, w_hh, b_hh=None, *, saved):
    grads = b.lstm_layer_backward(grad, w_hh, *saved)
    if b_hh is None:
        return grads
    return (*grads, b.reduce("sum", grads[0], (0, 1), False))  # b_hh reaches every step's gates


def _layer_backward_recorded(grad, xw, h0, c0, w_hh, b_hh=None, *, saved):
    """(d xw, d h0, d c0, d w_hh[, d b_hh]): the recurrence again in recorded ops, then back through time
    with them."""
    steps = xw.shape[0]
    hs, cs, gates = [h0], [c0], []
    for t in range(steps):
        x = xw[t] if b_hh is None else xw[t] + b_hh
        gates.append(x + hs[-1] @ w_hh.mT)
        h, c = apply(LstmCell, gates[-1], cs[-1]).unbind(0)
        hs.append(h)
        cs.append(c)
    dh, dc = grad[steps - 1] * 0, grad[steps]
    d_xw, d_w = [None] * steps, None
    for t in range(steps - 1, -1, -1):
        d_gates, dc = _cell_vjp(gates[t], cs[t], grad[t] + dh, dc)
        dh = d_gates @ w_hh
        d_xw[t] = d_gates
        step_w = d_gates.mT @ hs[t]
        d_w = step_w if d_w is None else d_w + step_w
    d_xw = stack(d_xw)
    return (d_xw, dh, dc, d_w) if b_hh is None else (d_xw, dh, dc, d_w, d_xw.sum((0, 1)))


vjp_ops.kernel("lstm_layer_backward", _layer_backward_arrays, _layer_backward_recorded)
