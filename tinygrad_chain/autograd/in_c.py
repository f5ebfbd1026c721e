"""The engine floor's C half (csrc/apply.cpp): apply and TensorCore.make run there where the
extension is built. None where it is not, or with TINYGRAD_CHAIN_PYTHON_APPLY=1, which keeps the
Python functions (to step through them in a debugger); tests run both."""
import os

try:
    from tinygrad_chain import _C as C
except ImportError:
    C = None
if os.environ.get("TINYGRAD_CHAIN_PYTHON_APPLY") == "1":
    C = None
