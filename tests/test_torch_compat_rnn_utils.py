"""torch.nn.utils.rnn (pack_padded_sequence, pad_packed_sequence, pad_sequence, pack_sequence) and RNN modules
taking a PackedSequence, and weight_norm / spectral_norm, against torch with the same weights and inputs."""
import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close

torch = pytest.importorskip("torch")


def _copy_weights(ours, theirs, rng):
    for (n, p), (m, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        v = (rng.standard_normal(tuple(q.shape)) * 0.3).astype(np.float32)
        with torch.no_grad():
            q.copy_(torch.tensor(v))
        with tc.no_grad():
            p.copy_(tc.tensor(v))


def _both(lib, x, lengths, make, batch_first, enforce_sorted, hx):
    rnn_utils = lib.nn.utils.rnn
    packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    out, h = make(packed, hx)
    padded, lens = rnn_utils.pad_packed_sequence(out, batch_first=batch_first, total_length=7)
    return packed, out, padded, lens, h


@pytest.mark.parametrize("kind,batch_first,enforce_sorted", [("LSTM", True, True), ("LSTM", False, False),
                                                             ("GRU", True, False), ("RNN", False, True)])
def test_packed_rnn_as_torch(kind, batch_first, enforce_sorted, rng):
    lengths = [6, 4, 4, 1] if enforce_sorted else [3, 6, 1, 4]
    shape = (4, 6, 3) if batch_first else (6, 4, 3)
    v = rng.standard_normal(shape).astype(np.float32)
    kwargs = dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=kind != "RNN", batch_first=batch_first)
    ours_m, theirs_m = getattr(tc.nn, kind)(**kwargs), getattr(torch.nn, kind)(**kwargs)
    _copy_weights(ours_m, theirs_m, rng)
    h0 = (rng.standard_normal((ours_m.num_layers * (2 if kind != "RNN" else 1), 4, 5)) * 0.5).astype(np.float32)
    results = []
    for lib, m in ((tc, ours_m), (torch, theirs_m)):
        x = lib.tensor(v, requires_grad=True)
        hx = lib.tensor(h0)
        hx = (hx, hx * 0.5) if kind == "LSTM" else hx
        packed, out, padded, lens, h = _both(lib, x, lib.tensor(lengths), m, batch_first, enforce_sorted, hx)
        h_n = h[0] + h[1] * 2 if kind == "LSTM" else h
        (padded.square().sum() + h_n.sum()).backward()
        results.append((packed, out, padded, lens, h_n, x.grad))
    (p1, o1, pad1, l1, h1, g1), (p2, o2, pad2, l2, h2, g2) = results
    assert p1.batch_sizes.tolist() == p2.batch_sizes.tolist()
    assert_close(p1.data.detach(), p2.data.detach().numpy(), msg="packed data")
    if not enforce_sorted:
        assert p1.sorted_indices.tolist() == p2.sorted_indices.tolist()
        assert p1.unsorted_indices.tolist() == p2.unsorted_indices.tolist()
    assert_close(o1.data.detach(), o2.data.detach().numpy(), msg="output data")
    assert_close(pad1.detach(), pad2.detach().numpy(), msg="padded output")
    assert l1.tolist() == l2.tolist()
    assert_close(h1.detach(), h2.detach().numpy(), msg="h_n")
    assert_close(g1, g2.numpy(), atol=1e-4, msg="input grad")


def test_pad_and_pack_sequence_as_torch(rng):
    vs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (2, 4, 1)]
    for lib in (tc, torch):
        seqs = [lib.tensor(v) for v in vs]
        u = lib.nn.utils.rnn
        got = (u.pad_sequence(seqs, batch_first=True, padding_value=-1.0), u.pad_sequence(seqs),
               u.pack_sequence(seqs, enforce_sorted=False).data, u.unpack_sequence(u.pack_sequence(seqs, False))[1])
        if lib is tc:
            ours = got
        else:
            for a, b in zip(ours, got):
                assert_close(a, b.numpy())
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        tc.nn.utils.rnn.pack_padded_sequence(tc.zeros(3, 2, 1), [1, 3])


def test_weight_norm_as_torch(rng):
    v = rng.standard_normal((5, 4)).astype(np.float32)
    outs = []
    for lib in (tc, torch):
        m = lib.nn.Linear(4, 3)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 10 - 0.5))
            m.bias.zero_()
        m = lib.nn.utils.weight_norm(m)
        names = sorted(n for n, _ in m.named_parameters())
        m(lib.tensor(v)).square().sum().backward()
        out = m(lib.tensor(v))
        outs.append((names, out, m.weight_g.grad, m.weight_v.grad))
        lib.nn.utils.remove_weight_norm(m)
        outs[-1] += (sorted(n for n, _ in m.named_parameters()), m.weight)
    (n1, o1, g1, v1, r1, w1), (n2, o2, g2, v2, r2, w2) = outs
    assert n1 == n2 == ["bias", "weight_g", "weight_v"] and r1 == r2 == ["bias", "weight"]
    for a, b in ((o1, o2), (g1, g2), (v1, v2), (w1, w2)):
        assert_close(a.detach(), b.detach().numpy(), atol=1e-5)


def test_spectral_norm_divides_by_the_largest_singular_value(rng):
    w = rng.standard_normal((6, 4)).astype(np.float32)
    m = tc.nn.Linear(4, 6)
    with tc.no_grad():
        m.weight.copy_(tc.tensor(w))
    m = tc.nn.utils.spectral_norm(m, n_power_iterations=50)
    assert sorted(n for n, _ in m.named_parameters()) == ["bias", "weight_orig"]
    assert sorted(n for n, _ in m.named_buffers()) == ["weight_u", "weight_v"]
    m(tc.zeros(1, 4))
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    assert_close(m.weight.detach(), w / sigma, atol=1e-4)
    u = m.weight_u.clone()
    m.eval()
    m(tc.zeros(1, 4))
    assert_close(m.weight_u, u)  # eval: no power iteration
    m.train()
    m(tc.ones(2, 4)).sum().backward()
    assert m.weight_orig.grad is not None and m.weight_orig.grad.shape == (6, 4)


def test_parametrizations_weight_norm_as_torch():
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10 - 0.5
    results = []
    for lib in (tc, torch):
        m = lib.nn.Linear(4, 3)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(w))
            m.bias.zero_()
        m = lib.nn.utils.parametrizations.weight_norm(m)
        keys = list(m.state_dict())
        x = lib.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
        m(x).square().sum().backward()
        p = m.parametrizations.weight
        got = [m(x).detach(), p.original0.grad, p.original1.grad]
        lib.nn.utils.parametrize.remove_parametrizations(m, "weight")
        results.append((keys, type(m).__name__, sorted(n for n, _ in m.named_parameters()), got + [m.weight]))
    (k1, c1, n1, t1), (k2, c2, n2, t2) = results
    assert (k1, c1, n1) == (k2, c2, n2) and c1 == "Linear"
    for a, b in zip(t1, t2):
        assert_close(a.detach(), b.detach().numpy(), atol=1e-5)


def test_register_parametrization_and_spectral_norm():
    class Symmetric(tc.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(-1, -2)

    m = tc.nn.Linear(3, 3)
    other = tc.nn.Linear(3, 3)
    tc.nn.utils.parametrize.register_parametrization(m, "weight", Symmetric())
    assert tc.allclose(m.weight, m.weight.t()) and type(other).__name__ == "Linear"
    assert sorted(n for n, _ in m.named_parameters()) == ["bias", "parametrizations.weight.original"]
    assert tc.nn.utils.parametrize.is_parametrized(m, "weight") and not tc.nn.utils.parametrize.is_parametrized(other)
    s = tc.nn.utils.parametrizations.spectral_norm(tc.nn.Linear(4, 6))
    assert sorted(s.state_dict()) == ["bias", "parametrizations.weight.0._u", "parametrizations.weight.0._v",
                                      "parametrizations.weight.original"]
    assert abs(np.linalg.svd(np.array(s.weight.tolist()), compute_uv=False)[0] - 1) < 1e-3
