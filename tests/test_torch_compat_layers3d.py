"""The 3-d layers (Conv3d, ConvTranspose3d, BatchNorm3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d), built on the
window gather of nn/_windows.py, against torch with the same weights: outputs, input and parameter gradients,
running statistics."""
import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close

torch = pytest.importorskip("torch")

CASES = {
    "conv3d": (lambda nn: nn.Conv3d(2, 4, 3, padding=1), (2, 2, 4, 5, 3)),
    "conv3d_groups_stride_dilation": (lambda nn: nn.Conv3d(4, 6, (2, 3, 3), stride=(1, 2, 2), padding=(0, 2, 1),
                                                           dilation=(1, 2, 1), groups=2), (1, 4, 5, 7, 6)),
    "conv3d_same_reflect": (lambda nn: nn.Conv3d(2, 2, 3, padding="same", padding_mode="reflect", bias=False),
                            (1, 2, 4, 4, 4)),
    "conv3d_unbatched": (lambda nn: nn.Conv3d(2, 3, 2), (2, 3, 3, 3)),
    "conv_transpose3d": (lambda nn: nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
                         (1, 4, 3, 2, 3)),
    "batchnorm3d": (lambda nn: nn.BatchNorm3d(2), (3, 2, 2, 3, 2)),
    "maxpool3d": (lambda nn: nn.MaxPool3d(2), (1, 2, 4, 5, 4)),
    "maxpool3d_ceil_padding": (lambda nn: nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 5, 4)),
    "avgpool3d": (lambda nn: nn.AvgPool3d(2, stride=1), (1, 2, 3, 4, 3)),
    "avgpool3d_ceil_padding": (lambda nn: nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 5, 4)),
    "avgpool3d_padding_uncounted": (lambda nn: nn.AvgPool3d(3, stride=2, padding=1, count_include_pad=False),
                                    (1, 2, 6, 5, 4)),
    "adaptive_avg_pool3d": (lambda nn: nn.AdaptiveAvgPool3d((2, 3, 1)), (1, 2, 5, 7, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_as_torch(name, rng):
    make, shape = CASES[name]
    theirs_m, ours_m = make(torch.nn), make(tc.nn)
    for p in theirs_m.parameters():
        with torch.no_grad():
            p.copy_(torch.tensor((rng.standard_normal(tuple(p.shape)) * 0.5).astype(np.float32)))
    ours_m.load_state_dict({k: tc.tensor(v.numpy()) for k, v in theirs_m.state_dict().items()})
    v = rng.standard_normal(shape).astype(np.float32)
    results = []
    for lib, m in ((tc, ours_m), (torch, theirs_m)):
        x = lib.tensor(v, requires_grad=True)
        out = m(x)
        w = lib.tensor(np.linspace(-1, 1, int(np.prod(tuple(out.shape)))).reshape(tuple(out.shape)).astype(np.float32))
        (out * w).sum().backward()
        results.append([out.detach(), x.grad] + [p.grad for p in m.parameters()] + list(m.buffers()))
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        assert_close(a, b.numpy(), atol=1e-4, rtol=1e-4, msg=name)
