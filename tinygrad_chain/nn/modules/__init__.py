"""tc.nn.modules: torch's import paths to the layers (torch.nn.modules.loss.MSELoss, ...).

Each submodule torch has here is the tc.nn module holding the same layers, under
torch's name (`modules.container` is tc.nn.containers, `modules.batchnorm` is
tc.nn.normalization, ...), so `from tinygrad_chain.nn.modules.loss import MSELoss` works.
"""
import importlib
import sys

from .. import *  # noqa: F401,F403  (every layer, as torch.nn.modules exports them)

_TORCH_NAMES = {
    "module": "module", "linear": "linear", "conv": "conv", "activation": "activation", "loss": "loss",
    "container": "containers", "batchnorm": "normalization", "normalization": "normalization",
    "dropout": "dropout", "pooling": "pooling", "rnn": "rnn", "sparse": "sparse", "transformer": "transformer",
    "flatten": "linear", "pixelshuffle": "pixelshuffle", "padding": "layers_more", "upsampling": "layers_more",
    "instancenorm": "layers_more", "distance": "layers_more",
}

for _torch_name, _ours in _TORCH_NAMES.items():
    _module = importlib.import_module(f"tinygrad_chain.nn.{_ours}")
    sys.modules[f"{__name__}.{_torch_name}"] = _module
    globals()[_torch_name] = _module
del _torch_name, _ours, _module
