"""Build script: the pure-Python package, plus the optional C++ kernels.

backends/ is mapped into the package as tinygrad_chain.backends (see
package-dir in pyproject.toml).

The extension tinygrad_chain._C (csrc/) is optional: when pybind11 or a C++
compiler is missing, or compiling fails, the install still succeeds without
it and the "numpy" device does all the work (a warning says why).
"""
import glob
import importlib.util
import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

packages = find_packages(include=["tinygrad_chain", "tinygrad_chain.*"]) + ["tinygrad_chain.backends"]


def write_generated_headers():
    """csrc/generated/: the formulas and opcode lists of backends/formulas.py as C++ headers (written at
    build time, never checked in, so each formula has one source)."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_tc_formulas", os.path.join(here, "backends", "formulas.py"))
    formulas = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(formulas)
    formulas.write_headers(os.path.join(here, "csrc", "generated"))


def _warn(msg):
    print(f"WARNING: tinygrad_chain C++ kernels not built ({msg}); the 'cpp' device will be "
          "unavailable and 'cpu' will use NumPy.", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that turns a failed compile into a warning."""

    def run(self):
        try:
            write_generated_headers()
            super().run()
        except Exception as e:  # no compiler at all (CCompilerError, DistutilsPlatformError, ...)
            _warn(f"{type(e).__name__}: {e}")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:
            _warn(f"{type(e).__name__}: {e}")


def _extensions():
    try:
        from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
    except ImportError:
        _warn("pybind11 is not installed")
        return []
    # the sources compile side by side, one per core (TINYGRAD_CHAIN_BUILD_JOBS=n to choose)
    ParallelCompile("TINYGRAD_CHAIN_BUILD_JOBS").install()
    # No -march=native: one binary for any x86-64; csrc/ compiles AVX2 and
    # AVX-512 variants with `#pragma GCC target` and picks one at import.
    # -ffp-contract=fast lets the SIMD kernels use FMA; -fno-trapping-math lets GCC turn the
    # selects in exp/tanh/... into blends below AVX-512 (it vectorizes nothing there otherwise);
    # no -ffast-math (NaN/inf must behave).
    # Threads come from a small pthread pool (csrc/threadpool.h), not OpenMP.
    flags = ["-O3", "-pthread", "-ffp-contract=fast", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden",
             "-Wno-psabi"]
    return [Pybind11Extension(
        "tinygrad_chain._C",
        sorted(glob.glob("csrc/*.cpp")),
        include_dirs=["csrc"],
        depends=sorted(glob.glob("csrc/*.h")) + ["backends/formulas.py"],
        extra_compile_args=flags,
        extra_link_args=["-pthread"],
        cxx_std=17,
    )]


setup(packages=packages, ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
