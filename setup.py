"""Build script: the pure-Python package, plus the optional C++ kernels.

backends/ is mapped into the package as tinygrad_chain.backends (see
package-dir in pyproject.toml).
"""
from setuptools import find_packages, setup

packages = find_packages(include=["tinygrad_chain", "tinygrad_chain.*"]) + ["tinygrad_chain.backends"]

setup(packages=packages)
