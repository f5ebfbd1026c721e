"""The Python apply (ops/registry.py) alone, as it runs where the C extension is not built: with
TINYGRAD_CHAIN_PYTHON_APPLY=1 the engine's and the gradient checks' test modules pass on it."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def device():
    """Overrides the suite's per-device parametrization: the run below picks its device."""
    yield None


def test_engine_tests_pass_on_the_python_apply():
    env = dict(os.environ, TINYGRAD_CHAIN_PYTHON_APPLY="1", TINYGRAD_CHAIN_TEST_DEVICE="cpp")
    check = ("import tinygrad_chain as tc; from tinygrad_chain.ops import registry; "
             "assert registry.apply is registry.python_apply and tc.Tensor._make == tc.Tensor.make")
    subprocess.run([sys.executable, "-c", check], env=env, check=True)
    run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "test_engine.py",
                          "test_grad_validation.py", "test_apply_c.py"], env=env, capture_output=True, text=True,
                         cwd=HERE, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
