"""TransformerDecoderLayer, TransformerDecoder and Transformer against torch 2.13 (CPU) from identical
weights: outputs, input gradients and parameter gradients with causal float and bool masks, key padding
masks, batch_first and norm_first both ways, gelu; torch's state_dict keys, repr and initialisation;
the errors bad input gets."""
import math

import numpy as np
import pytest
import torch
from helpers import assert_close, to_np
from test_nn_layers import R, compare

import tinygrad_chain as tc

nn = tc.nn
ATOL = 5e-5


def _causal(n):
    return np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)


def _seq(rng, length, batch, d, batch_first):
    return R(rng, batch, length, d) if batch_first else R(rng, length, batch, d)


def _pair(cls, *args, **kw):
    return getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_with_causal_float_mask(rng, batch_first, norm_first):
    ours, theirs = _pair("TransformerDecoderLayer", 8, 2, dim_feedforward=16, dropout=0.0, batch_first=batch_first,
                         norm_first=norm_first)
    tgt, mem = _seq(rng, 5, 3, 8, batch_first), _seq(rng, 4, 3, 8, batch_first)
    compare(ours, theirs, tgt, mem, atol=ATOL)
    compare(ours, theirs, tgt, mem, _causal(5), sync=False, atol=ATOL,
            call=lambda m, t, s, msk: m(t, s, tgt_mask=msk))
    compare(ours, theirs, tgt, mem, _causal(5), sync=False, atol=ATOL,
            call=lambda m, t, s, msk: m(t, s, tgt_mask=msk, tgt_is_causal=True))


@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_bool_and_padding_masks(rng, batch_first):
    ours, theirs = _pair("TransformerDecoderLayer", 8, 4, dim_feedforward=12, dropout=0.0, batch_first=batch_first)
    tgt, mem = _seq(rng, 4, 2, 8, batch_first), _seq(rng, 3, 2, 8, batch_first)
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)  # True: may not attend
    mem_mask = np.array([[False, True, False], [False, False, False], [True, False, False], [False, False, True]])
    tgt_pad = np.array([[False, False, False, True], [False, False, False, False]])
    mem_pad = np.array([[False, False, True], [False, True, False]])
    compare(ours, theirs, tgt, mem, causal, mem_mask, tgt_pad, mem_pad, atol=ATOL,
            call=lambda m, t, s, a, b, c, d: m(t, s, tgt_mask=a, memory_mask=b, tgt_key_padding_mask=c,
                                               memory_key_padding_mask=d))


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_decoder_layer_activation_no_bias_and_eps(rng, activation):
    kw = dict(dim_feedforward=12, dropout=0.0, activation=activation, layer_norm_eps=1e-3, bias=False,
              norm_first=True)
    ours, theirs = _pair("TransformerDecoderLayer", 8, 2, **kw)
    compare(ours, theirs, R(rng, 4, 2, 8), R(rng, 6, 2, 8), atol=ATOL)


def test_decoder_layer_unbatched(rng):
    ours, theirs = _pair("TransformerDecoderLayer", 8, 2, dim_feedforward=12, dropout=0.0)
    out = compare(ours, theirs, R(rng, 4, 8), R(rng, 3, 8), _causal(4), atol=ATOL,
                  call=lambda m, t, s, msk: m(t, s, tgt_mask=msk))
    assert tuple(out[0].shape) == (4, 8)


@pytest.mark.parametrize("norm", [False, True])
def test_decoder_stack(rng, norm):
    kw = dict(dim_feedforward=16, dropout=0.0, batch_first=True)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **kw), 2, nn.LayerNorm(8) if norm else None)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kw), 2,
                                         torch.nn.LayerNorm(8) if norm else None)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    pad = np.array([[False, False, True], [False, False, False]])
    compare(ours, theirs, R(rng, 2, 5, 8), R(rng, 2, 3, 8), _causal(5), pad, atol=ATOL,
            call=lambda m, t, s, msk, p: m(t, s, tgt_mask=msk, memory_key_padding_mask=p))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer(rng, batch_first, norm_first):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
              batch_first=batch_first, norm_first=norm_first)
    ours, theirs = nn.Transformer(**kw), torch.nn.Transformer(**kw)
    src, tgt = _seq(rng, 6, 2, 8, batch_first), _seq(rng, 5, 2, 8, batch_first)
    src_pad = np.array([[False] * 5 + [True], [False] * 6])
    tgt_pad = np.array([[False] * 5, [False] * 4 + [True]])
    mask = to_np(nn.Transformer.generate_square_subsequent_mask(5))
    compare(ours, theirs, src, tgt, mask, src_pad, tgt_pad, src_pad, atol=ATOL,
            call=lambda m, s, t, msk, sp, tp, mp: m(s, t, tgt_mask=msk, src_key_padding_mask=sp,
                                                    tgt_key_padding_mask=tp, memory_key_padding_mask=mp))


def test_transformer_all_masks_gelu_and_unbatched(rng):
    kw = dict(d_model=8, nhead=4, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=12, dropout=0.0,
              activation="gelu")
    ours, theirs = nn.Transformer(**kw), torch.nn.Transformer(**kw)
    src_mask = R(rng, 4, 4)  # an arbitrary additive float mask
    mem_mask = np.array([[False, True, False, False], [False, False, True, False], [True, False, False, False]])
    compare(ours, theirs, R(rng, 4, 2, 8), R(rng, 3, 2, 8), src_mask, _causal(3), mem_mask, atol=ATOL,
            call=lambda m, s, t, a, b, c: m(s, t, src_mask=a, tgt_mask=b, memory_mask=c))
    out = compare(ours, theirs, R(rng, 4, 8), R(rng, 3, 8), sync=False, atol=ATOL)
    assert tuple(out[0].shape) == (3, 8)


def test_eval_mode_with_dropout_matches_torch(rng):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.3)
    ours, theirs = nn.Transformer(**kw).eval(), torch.nn.Transformer(**kw).eval()
    compare(ours, theirs, R(rng, 4, 2, 8), R(rng, 3, 2, 8), atol=ATOL)
    ours.train()
    out = ours(tc.randn(4, 2, 8), tc.randn(3, 2, 8))
    assert tuple(out.shape) == (3, 2, 8)


def test_generate_square_subsequent_mask():
    for n in (1, 4):
        ours = nn.Transformer.generate_square_subsequent_mask(n)
        assert ours.dtype == tc.float32
        np.testing.assert_array_equal(to_np(ours), torch.nn.Transformer.generate_square_subsequent_mask(n).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=tc.float64).dtype == tc.float64


def test_state_dict_keys_repr_and_loading_from_torch(rng):
    ours, theirs = nn.Transformer(8, 2, 1, 2, 16), torch.nn.Transformer(8, 2, 1, 2, 16)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert repr(nn.TransformerDecoderLayer(8, 2)) == repr(torch.nn.TransformerDecoderLayer(8, 2))
    assert ours.d_model == 8 and ours.nhead == 2 and ours.batch_first is False
    ours.load_state_dict({k: tc.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert_close(ours.decoder.layers[1].multihead_attn.in_proj_weight,
                 theirs.decoder.layers[1].multihead_attn.in_proj_weight.detach().numpy())


def test_custom_encoder_and_decoder(rng):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.0), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, 0.0), 1)
    model = nn.Transformer(8, 2, custom_encoder=enc, custom_decoder=dec)
    assert model.encoder is enc and model.decoder is dec
    assert len(list(model.parameters())) == len(list(enc.parameters())) + len(list(dec.parameters()))


def test_default_initialisation():
    """Transformer re-initialises every matrix with xavier_uniform_ (bound sqrt(6 / (fan_in + fan_out)))."""
    tc.manual_seed(0)
    model = nn.Transformer(16, 2, 1, 1, 64)
    for name, p in model.named_parameters():
        if p.dim() > 1:
            bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
            a = np.abs(to_np(p))
            assert a.max() <= bound and a.max() > 0.8 * bound, name
    layer = model.decoder.layers[0]
    assert not np.any(to_np(layer.multihead_attn.in_proj_bias)) and np.all(to_np(layer.norm3.weight) == 1.0)


def test_errors():
    layer = nn.TransformerDecoderLayer(8, 2, 16)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16)
    bad = [  # (tgt shape, memory shape, exception torch raises too, our message)
        ((3, 2, 6), (4, 2, 8), AssertionError, r"TransformerDecoderLayer\(d_model=8, nhead=2\).*8.*tgt.*\[3, 2, 6\]"),
        ((3, 2, 8), (4, 2, 6), RuntimeError, r"TransformerDecoderLayer.*memory.*\[4, 2, 6\]"),
        ((3, 2, 8, 1), (4, 2, 8), AssertionError, r"TransformerDecoderLayer.*4-D tgt.*\[3, 2, 8, 1\]"),
        ((3, 2, 8), (4, 8), AssertionError, r"TransformerDecoderLayer.*tgt \[3, 2, 8\] and memory \[4, 8\]"),
        ((3, 2, 8), (4, 3, 8), RuntimeError, r"TransformerDecoderLayer.*tgt \[3, 2, 8\] and memory \[4, 3, 8\]"),
    ]
    for t, m, exc, msg in bad:
        with pytest.raises(exc, match=msg):
            layer(tc.randn(*t), tc.randn(*m))
        with pytest.raises(exc):
            theirs(torch.randn(*t), torch.randn(*m))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        layer(tc.randn(3, 2, 8), tc.randn(4, 2, 8), tgt_is_causal=True)
    with pytest.raises(RuntimeError, match=r"2D attn_mask.*\[4, 4\].*\[3, 3\]"):
        layer(tc.randn(3, 2, 8), tc.randn(4, 2, 8), tgt_mask=tc.zeros(4, 4))
    with pytest.raises(AssertionError, match=r"TransformerEncoderLayer\(d_model=8.*\[3, 2, 6\]"):
        nn.TransformerEncoderLayer(8, 2, 16)(tc.randn(3, 2, 6))
    with pytest.raises(AssertionError, match="divisible"):
        nn.TransformerDecoderLayer(8, 3)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match=r"feature number.*d_model.*\[3, 2, 6\]"):
        model(tc.randn(3, 2, 6), tc.randn(4, 2, 6))
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt.*\[3, 2, 8\].*\[4, 3, 8\]"):
        model(tc.randn(3, 2, 8), tc.randn(4, 3, 8))
    batch_first = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(RuntimeError, match="batch number"):
        batch_first(tc.randn(2, 3, 8), tc.randn(3, 3, 8))
