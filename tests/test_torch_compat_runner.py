"""`python -m tinygrad_chain.torch_compat script.py`: torch scripts run unmodified (issue 14).

Each script in tests/torch_scripts/ runs with torch itself and on tinygrad_chain; where both see
the same inputs (data and weights from NumPy), the numbers they print agree to float32 precision.
The scripts run in a subprocess on the device under test (TINYGRAD_CHAIN_DEVICE, and the fusion
threshold of cpp_fused); they reach the CPU through "cpu", so they run on the CPU device "cpu"
names, and the cpp_kernels variant (thresholds not settable from outside) is skipped.
"""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tinygrad_chain as tc
from tinygrad_chain.backends import lazy as fusion

SCRIPTS = Path(__file__).parent / "torch_scripts"
_NUMBER = re.compile(r"[-+]?\d+\.\d+(?:e[-+]?\d+)?")


@pytest.fixture
def env(device):
    if device != tc.backends.resolve("cpu"):
        pytest.skip(f"the scripts run on the device 'cpu' names, {tc.backends.resolve('cpu')}")
    if device == "cpp":
        from tinygrad_chain.backends import cpp_backend
        if not any(cpp_backend.min_sizes().values()):
            pytest.skip("cpp_kernels: its kernel thresholds cannot be set from outside the process")
    return dict(os.environ, TINYGRAD_CHAIN_DEVICE=device, TINYGRAD_CHAIN_FUSE_MIN=str(fusion.config.min_elements))


def _run(args, env, alias=True, check=True):
    cmd = [sys.executable, "-m", "tinygrad_chain.torch_compat"] if alias else [sys.executable]
    out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out


def _numbers(text):
    return [float(v) for v in _NUMBER.findall(text)]


def _same_output(script, args, env, rtol):
    """Run `script` with torch and on tinygrad_chain; their printed numbers agree to rtol."""
    pytest.importorskip("torch")
    theirs = _run([SCRIPTS / script, *args], env, alias=False).stdout
    ours = _run([SCRIPTS / script, *args], env).stdout
    a, b = _numbers(ours), _numbers(theirs)
    assert len(a) == len(b) and a, (ours, theirs)
    for x, y in zip(a, b):
        assert abs(x - y) <= rtol * max(abs(y), 1.0), (x, y, ours, theirs)
    return ours


def test_regression_matches_torch(env):
    out = _same_output("regression.py", ["--steps", "60"], env, rtol=2e-4)
    assert "==> Learned function:\ty = " in out


def test_lstm_timeseries_matches_torch(env):
    out = _same_output("lstm_timeseries.py", ["--steps", "4"], env, rtol=2e-4)
    assert "prediction (3, 49)" in out


def test_vae_matches_torch(env):
    out = _same_output("vae.py", ["--epochs", "1", "--samples", "128", "--numpy-noise"], env, rtol=2e-4)
    assert "====> Epoch: 1 Average loss:" in out


def test_text_classifier_matches_torch(env):
    """pad_sequence, packed bidirectional GRU, AdamW groups, LinearLR + cosine (SequentialLR), GradScaler."""
    out = _same_output("text_classifier.py", ["--epochs", "2", "--samples", "48"], env, rtol=2e-4)
    assert "epoch 2 loss" in out and "accuracy" in out


@pytest.mark.parametrize("flash", ["1", "0"])
def test_mini_gpt_matches_torch(env, flash):
    """nanoGPT's idioms: ModuleDict, weight tying, sdpa or a mask buffer, fused= by signature, top-k generate."""
    out = _same_output("mini_gpt.py", ["--iters", "4", "--flash", flash], env, rtol=2e-4)
    assert "iter 3: loss" in out and "sample" in out


def test_mnist_with_accelerator_selection_trains(env, tmp_path):
    out = _run([SCRIPTS / "mnist_accel.py", "--epochs", "2", "--samples", "256", "--save-model"], env).stdout
    assert ("device cuda cuda" if tc.accelerator.is_available() else "device cpu cpu") in out
    losses = [float(v) for v in re.search(r"test losses (.*)", out).group(1).split()]
    assert len(losses) == 2 and losses[1] < losses[0] and "reloaded 149418 parameters" in out


def _script(tmp_path, body):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_an_unsupported_name_is_named(env, tmp_path):
    out = _run([_script(tmp_path, """
        import torch
        assert not hasattr(torch, "vmap") and getattr(torch, "fft", None) is None
        f = torch.vmap(torch.nn.Linear(2, 2))
    """)], env, check=False)
    assert out.returncode == 1
    assert "NotSupportedError: torch.vmap is not supported by tinygrad_chain" in out.stderr
    out = _run([_script(tmp_path, "import torch.nn.functional as F\nF.not_a_function(1)\n")], env, check=False)
    assert "torch.nn.functional.not_a_function is not supported by tinygrad_chain" in out.stderr
    out = _run([_script(tmp_path, "import torch.fft\n")], env, check=False)
    assert "ModuleNotFoundError: No module named 'torch.fft': torch.fft is not supported" in out.stderr
    out = _run([_script(tmp_path, "from torch import vmap\n")], env, check=False)
    assert "cannot import name 'vmap'" in out.stderr and "torch.vmap is not supported" in out.stderr


def test_the_alias_behaves_as_torchs_modules(env, tmp_path):
    out = _run([_script(tmp_path, """
        import sys
        import torch
        import torch.nn as nn
        import torch.backends.cudnn as cudnn
        from torch.nn import *
        from torch.nn.modules.loss import MSELoss
        from torch.utils.data import DataLoader, RandomSampler
        cudnn.benchmark = True
        import tinygrad_chain
        assert torch.backends.cudnn.benchmark is tinygrad_chain.backends.cudnn.benchmark is True
        assert torch.nn.Linear is tinygrad_chain.nn.Linear and Linear is nn.Linear and MSELoss is nn.MSELoss
        assert isinstance(torch.ones(2), torch.Tensor) and torch.Size([2]) == (2,)
        assert type(tinygrad_chain.nn.functional) is type(sys)  # tinygrad_chain's own modules are untouched
        assert "torch" in sys.modules and sys.modules["torch"].__name__ == "torch"
        print("args", sys.argv[1:], torch.device("cpu"), torch.zeros(2, 3).shape)
    """), "--flag", "x"], env)
    assert out.stdout.strip() == "args ['--flag', 'x'] cpu tinygrad_chain.Size([2, 3])"


def test_install_refuses_after_the_real_torch(env):
    code = "import torch, tinygrad_chain.torch_compat as c\ntry:\n c.install()\nexcept RuntimeError as e:\n print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "the real torch is already imported" in out.stdout


def test_help():
    out = subprocess.run([sys.executable, "-m", "tinygrad_chain.torch_compat"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and "python -m tinygrad_chain.torch_compat train.py" in out.stdout


def test_tensorboard_writer_accepts_and_warns_once(env, tmp_path):
    """makemore imports torch.utils.tensorboard unconditionally: the writer takes every call and writes nothing,
    and says so once."""
    out = _run([_script(tmp_path, """
        import os, warnings
        from torch.utils.tensorboard import SummaryWriter
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            logs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logs")
            w = SummaryWriter(log_dir=logs)
            SummaryWriter()
        assert len(caught) == 1 and "writes nothing" in str(caught[0].message), caught
        w.add_scalar("Loss/train", 1.5, 0); w.add_scalars("x", {"a": 1.0}, 0); w.add_histogram("h", [1, 2], 0)
        w.flush(); w.close()
        with SummaryWriter(logs) as w2:
            w2.add_text("t", "s")
        try:
            w.not_a_method
        except AttributeError as e:
            print(w.get_logdir() == logs, os.path.exists(logs), "AttributeError")
    """)], env)
    assert out.stdout.strip() == "True False AttributeError"
