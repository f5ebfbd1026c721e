"""MultiheadAttention, the Transformer encoder and decoder (layers, stacks) and Transformer, with torch's names."""
import copy
import math

from tinygrad_chain.creation import arange, empty, zeros

from . import functional as F
from . import init
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for MultiheadAttention.out_proj (a plain Linear)."""


def _as_additive(mask, like, what):
    """A float mask to add to the scores: bool masks mark the positions NOT allowed to attend (torch's MHA)."""
    if mask is None:
        return None
    if mask.dtype.is_floating_point:
        return mask.to(like.dtype)
    return zeros(*mask.shape, dtype=like.dtype, device=like.device).masked_fill(mask, float("-inf"))


class MultiheadAttention(Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.batch_first = batch_first
        if self._qkv_same_embed_dim:  # one (3E, E) projection; torch's names either way
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, device=device, dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            for name, width in (("q_proj_weight", embed_dim), ("k_proj_weight", self.kdim),
                                ("v_proj_weight", self.vdim)):
                setattr(self, name, Parameter(empty(embed_dim, width, device=device, dtype=dtype)))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = f"{self._get_name()}(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
        # shape errors are AssertionErrors, as torch's (its checks are asserts)
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise AssertionError(f"{name}: query, key and value must all be 2-D (unbatched) or 3-D, got "
                               f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{name}: Need attn_mask if specifying the is_causal hint")
        self_attn = query is key and key is value
        if batched and self.batch_first:
            query = query.transpose(0, 1)
            key = query if self_attn else key.transpose(0, 1)
            value = query if self_attn else value.transpose(0, 1)
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        L, N, E = query.shape
        S = key.shape[0]
        if E != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise AssertionError(f"{name}: expected query, key and value with last dimensions {self.embed_dim}, "
                                 f"{self.kdim}, {self.vdim}, got {list(query.shape)}, {list(key.shape)}, "
                                 f"{list(value.shape)}")
        if key.shape[:2] != value.shape[:2] or key.shape[1] != N:
            raise AssertionError(f"{name}: key shape {list(key.shape)} and value shape {list(value.shape)} do not "
                               f"match each other or the query's batch of {N}")
        w, b = self.in_proj_weight, self.in_proj_bias
        if self_attn and w is not None:
            q, k, v = F.linear(query, w, b).chunk(3, dim=-1)
        else:
            bq, bk, bv = b.chunk(3) if b is not None else (None, None, None)
            wq, wk, wv = w.chunk(3) if w is not None else (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
            q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
        h, hd = self.num_heads, self.head_dim
        q = q.reshape(L, N, h, hd).permute(1, 2, 0, 3)
        k = k.reshape(S, N, h, hd).permute(1, 2, 3, 0)
        v = v.reshape(S, N, h, hd).permute(1, 2, 0, 3)
        scores = q.matmul(k) * (1.0 / math.sqrt(hd))  # (N, h, L, S)
        mask = _as_additive(attn_mask, scores, "attn_mask")
        if mask is not None:
            if mask.ndim == 3:
                if tuple(mask.shape) != (N * h, L, S):
                    raise RuntimeError(f"{name}: The shape of the 3D attn_mask is {list(mask.shape)}, but should be "
                                       f"{[N * h, L, S]}.")
                mask = mask.reshape(N, h, L, S)
            elif tuple(mask.shape) != (L, S):
                raise RuntimeError(f"{name}: The shape of the 2D attn_mask is {list(mask.shape)}, but should be "
                                   f"{[L, S]}.")
            scores = scores + mask
        kpm = _as_additive(key_padding_mask, scores, "key_padding_mask")
        if kpm is not None:
            if tuple(kpm.shape) != (N, S):
                raise RuntimeError(f"{name}: expected key_padding_mask of shape {[N, S]}, got {list(kpm.shape)}")
            scores = scores + kpm.reshape(N, 1, 1, S)
        attn = scores.softmax(-1)
        dropped = F.dropout(attn, self.dropout, self.training) if self.dropout > 0.0 else attn
        out = dropped.matmul(v).permute(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(out)
        weights = None
        if need_weights:
            weights = attn.mean(1) if average_attn_weights else attn
            if not batched:
                weights = weights.squeeze(0)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights


def _activation(name):
    if callable(name):
        return name
    if name == "relu":
        return F.relu
    if name == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {name}")


def _check_seq(layer, what, x, d_model, exc=AssertionError):
    """A (L, E) or (L, N, E) / (N, L, E) sequence with E == d_model (torch's exception types)."""
    if x.ndim not in (2, 3):
        raise AssertionError(f"{layer}: {what} should be unbatched 2D or batched 3D tensor but received "
                             f"{x.ndim}-D {what} tensor of shape {list(x.shape)}")
    if x.shape[-1] != d_model:
        raise exc(f"{layer}: was expecting embedding dimension of {d_model}, but got {what} of shape "
                  f"{list(x.shape)}")


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: torch's submodules (in torch's order) and blocks.
    A decoder layer (`cross=True`) adds cross-attention (multihead_attn), norm3 and dropout3."""

    def __init__(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                 norm_first, bias, device, dtype, cross):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        if cross:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        blocks = (1, 2, 3) if cross else (1, 2)
        for i in blocks:
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in blocks:
            setattr(self, f"dropout{i}", Dropout(dropout))
        if isinstance(activation, Module):
            self.activation = activation
        else:
            self.__dict__["activation"] = _activation(activation)

    def _name(self):
        return f"{self._get_name()}(d_model={self.self_attn.embed_dim}, nhead={self.self_attn.num_heads})"

    def _residual(self, x, norm, block):
        """Pre-norm x + block(norm(x)), or post-norm norm(x + block(x))."""
        return x + block(norm(x)) if self.norm_first else norm(x + block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x, dropout):
        return dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-05,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, device, dtype, cross=False)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_seq(self._name(), "src", src, self.self_attn.embed_dim)
        x = self._residual(src, self.norm1, lambda y: self._sa_block(y, src_mask, src_key_padding_mask, is_causal))
        return self._residual(x, self.norm2, lambda y: self._ff_block(y, self.dropout2))


class TransformerDecoderLayer(_TransformerLayer):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-05,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, device, dtype, cross=True)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        name, d_model = self._name(), self.self_attn.embed_dim
        _check_seq(name, "tgt", tgt, d_model)
        _check_seq(name, "memory", memory, d_model, RuntimeError)
        batch = 0 if self.self_attn.batch_first else 1
        if memory.ndim != tgt.ndim or (tgt.ndim == 3 and memory.shape[batch] != tgt.shape[batch]):
            exc = AssertionError if memory.ndim != tgt.ndim else RuntimeError
            raise exc(f"{name}: tgt {list(tgt.shape)} and memory {list(memory.shape)} must both be unbatched or "
                      f"batched with the same batch size")
        x = self._residual(tgt, self.norm1,
                           lambda y: self._sa_block(y, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self._residual(x, self.norm2, lambda y: self._mha_block(y, memory, memory_mask, memory_key_padding_mask,
                                                                     memory_is_causal))
        return self._residual(x, self.norm3, lambda y: self._ff_block(y, self.dropout3))


def _clones(layer, num_layers):
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(out) if self.norm is not None else out


class TransformerDecoder(Module):
    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(out) if self.norm is not None else out


class Transformer(Module):
    """Encoder-decoder transformer (torch.nn.Transformer): final LayerNorms on both stacks, and every
    weight matrix re-initialised with xavier_uniform_ after the layers are cloned, as torch does."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-05,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*args, **kw), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*args, **kw), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        name = f"Transformer(d_model={self.d_model}, nhead={self.nhead})"
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch] != tgt.shape[batch]):
            raise RuntimeError(f"{name}: the batch number of src and tgt must be equal (src {list(src.shape)}, tgt "
                               f"{list(tgt.shape)}, batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"{name}: the feature number of src and tgt must be equal to d_model (src "
                               f"{list(src.shape)}, tgt {list(tgt.shape)})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: -inf above the diagonal (no attending to later positions), 0 elsewhere."""
        above = arange(sz, device=device).unsqueeze(1) < arange(sz, device=device)
        return zeros(sz, sz, device=device, dtype=dtype).masked_fill(above, float("-inf"))
