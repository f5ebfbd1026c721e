"""RNN, LSTM, GRU (num_layers, batch_first, bidirectional, dropout) and their cells.

The input projection of every time step is one matmul per layer and
direction; the recurrence then runs step by step with torch's gate order
(LSTM: i, f, g, o; GRU: r, z, n) and parameter names (weight_ih_l0, ...).
"""
import math

import numpy

from tinygrad_chain.creation import empty, tensor, zeros
from tinygrad_chain.functions import cat, stack
from tinygrad_chain.ops.recurrent import LstmCell, LstmLayer
from tinygrad_chain.ops.registry import apply

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _lstm_step(gates, c):
    """(h', c') from the step's pre-activation gates: one fused op (ops/recurrent.py)."""
    h, c = apply(LstmCell, gates, c).unbind(0)
    return h, c


def _gru_step(gi, gh, h, hidden):
    rz = (gi[:, :2 * hidden] + gh[:, :2 * hidden]).sigmoid()
    r, z = rz[:, :hidden], rz[:, hidden:]
    n = (gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:]).tanh()
    return n + z * (h - n)


class RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if proj_size:
            raise NotImplementedError(f"{type(self).__name__}: proj_size is not supported")
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(directions):
                width = input_size if layer == 0 else hidden_size * directions
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate, width)), ("weight_hh", (gate, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(empty(*shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op: torch packs the weights into one buffer for cuDNN, which is not used here."""

    def _weights(self, layer, d):
        suffix = f"_l{layer}" + ("_reverse" if d else "")
        p = self._parameters
        return (p["weight_ih" + suffix], p["weight_hh" + suffix], p.get("bias_ih" + suffix),
                p.get("bias_hh" + suffix))

    @property
    def all_weights(self):
        """[[weight_ih, weight_hh, bias_ih, bias_hh], ...] per layer and direction (torch's)."""
        directions = 2 if self.bidirectional else 1
        return [[w for w in self._weights(layer, d) if w is not None] for layer in range(self.num_layers)
                for d in range(directions)]

    def _describe(self):
        return f"{self._get_name()}({self.extra_repr()})"

    def forward(self, input, hx=None):  # noqa: A002
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        return self._forward_tensor(input, hx)

    def _forward_packed(self, packed, hx):
        """Sequences of one length run together as a plain batch (no step of one reads another's padding), so
        the outputs, h_n and c_n are exactly torch's; h_n follows the original batch order, as torch's."""
        padded, lengths = pad_packed_sequence(packed)  # (T, B, *), original order
        is_lstm = self.mode == "LSTM"
        states = None if hx is None else (tuple(hx) if is_lstm else (hx,))
        lengths = lengths.tolist()
        groups = sorted(set(lengths), reverse=True)
        outs, hs, cs, members = [], [], [], []
        for n in groups:
            idx = [i for i, m in enumerate(lengths) if m == n]
            index = tensor(idx, device=padded.device)
            sub_hx = None if states is None else tuple(s.index_select(1, index) for s in states)
            x = padded[:n].index_select(1, index)
            out, h = self._forward_tensor(x.transpose(0, 1) if self.batch_first else x,
                                          None if sub_hx is None else sub_hx if is_lstm else sub_hx[0])
            out = out.transpose(0, 1) if self.batch_first else out
            outs.append(F.pad(out, (0, 0, 0, 0, 0, padded.shape[0] - n)))
            hs.append(h[0] if is_lstm else h)
            cs.append(h[1] if is_lstm else None)
            members += idx
        back = tensor(numpy.argsort(members), device=padded.device)
        regroup = (lambda parts: cat(parts, 1).index_select(1, back))
        output = pack_padded_sequence(regroup(outs), lengths, enforce_sorted=packed.sorted_indices is None)
        h_n = regroup(hs)
        return output, ((h_n, regroup(cs)) if is_lstm else h_n)

    def _forward_tensor(self, input, hx):  # noqa: A002
        is_lstm = self.mode == "LSTM"
        if input.ndim not in (2, 3):
            raise ValueError(f"{self._describe()}: Expected input to be 2D or 3D, got {input.ndim}D tensor of shape "
                             f"{list(input.shape)} instead")
        batched = input.ndim == 3
        x = input if not batched or not self.batch_first else input.transpose(0, 1)
        if not batched:
            x = x.unsqueeze(1)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{self._describe()}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]} (input shape {list(input.shape)})")
        seq, batch = x.shape[:2]
        if seq == 0:  # no step to run: there is no final state to return (torch refuses too)
            raise RuntimeError(f"{self._describe()}: Expected sequence length to be larger than 0 in RNN (input shape "
                               f"{list(input.shape)})")
        directions = 2 if self.bidirectional else 1
        want = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:  # one zero state serves every layer and direction (an index of a stack would be an op each)
            zero = zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device)
            h0 = c0 = [zero] * want[0]
        else:
            h0, c0 = hx if is_lstm else (hx, None)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            for name, t in (("hidden", h0), ("cell", c0)):
                if t is not None and tuple(t.shape) != want:
                    raise RuntimeError(f"{self._describe()}: Expected {name} size {want}, got {list(t.shape)}")
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                idx = layer * directions + d
                ys, h, c = self._run_direction(layer_input, layer, d, h0[idx], c0[idx] if is_lstm else None)
                outs.append(ys)
                h_n.append(h)
                c_n.append(c)
            layer_input = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        # each (1, B, H): one layer and direction's are h_n and c_n as they are (views of an LSTM's output)
        h_n = h_n[0] if len(h_n) == 1 else cat(h_n, 0)
        c_n = None if not is_lstm else c_n[0] if len(c_n) == 1 else cat(c_n, 0)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((h_n, c_n) if is_lstm else h_n)

    def _run_direction(self, x, layer, d, h, c):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
        hidden = self.hidden_size
        seq = x.shape[0]
        gru = self.mode == "GRU"
        # every time step's input projection at once; b_hh folds in too, except for GRU (it sits inside r * (.))
        if self.mode == "LSTM":  # the input projection, then the whole recurrence as one op (ops/recurrent.py)
            xw = F.linear(x, w_ih, b_ih)
            xw = xw.flip(0) if d else xw
            out = apply(LstmLayer, xw, h, c, w_hh) if b_hh is None else apply(LstmLayer, xw, h, c, w_hh, b_hh)
            ys = out[:seq]
            return (ys.flip(0) if d else ys), out[seq - 1:seq], out[seq:]
        xw = x.matmul(w_ih.t())
        if b_ih is not None:
            xw = xw + (b_ih if gru else b_ih + b_hh)
        w_hh_t = w_hh.t()
        steps = range(seq - 1, -1, -1) if d else range(seq)
        ys = [None] * seq
        xs = xw.unbind(0)
        for t in steps:
            hw = h.matmul(w_hh_t)
            if gru:
                h = _gru_step(xs[t], hw + b_hh if b_hh is not None else hw, h, hidden)
            elif self.mode == "RNN_TANH":
                h = (xs[t] + hw).tanh()
            else:
                h = (xs[t] + hw).relu()
            ys[t] = h
        return stack(ys), h.unsqueeze(0), c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.__dict__["nonlinearity"] = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)

    def extra_repr(self):
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class _CellBase(Module):
    def __init__(self, input_size, hidden_size, bias, gates, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty(gates * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(empty(gates * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gates * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gates * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        stdv = 1.0 / math.sqrt(hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx):  # noqa: A002
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise RuntimeError(f"{self._get_name()}({self.extra_repr()}): expected input of shape [batch, "
                               f"{self.input_size}] or [{self.input_size}], got {list(input.shape)}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            hx = zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(0)
        return x, hx, batched

    def _proj(self, x, h):
        gi = x.matmul(self.weight_ih.t())
        gh = h.matmul(self.weight_hh.t())
        if self.bias_ih is not None:
            gi, gh = gi + self.bias_ih, gh + self.bias_hh
        return gi, gh

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002
        x, h, batched = self._prepare(input, hx)
        gi, gh = self._proj(x, h)
        out = (gi + gh).tanh() if self.nonlinearity == "tanh" else (gi + gh).relu()
        return out if batched else out.squeeze(0)


class LSTMCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        if hx is None:
            x, h, batched = self._prepare(input, None)
            c = h
        else:
            x, (h, c), batched = self._prepare(input, tuple(hx))
        gi, gh = self._proj(x, h)
        h, c = _lstm_step(gi + gh, c)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        x, h, batched = self._prepare(input, hx)
        gi, gh = self._proj(x, h)
        out = _gru_step(gi, gh, h, self.hidden_size)
        return out if batched else out.squeeze(0)
