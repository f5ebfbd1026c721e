"""Run a PyTorch script on tinygrad_chain, unmodified:

    python -m tinygrad_chain.torch_compat train.py --epochs 1

While the script runs, `import torch` and its submodules (torch.nn, torch.utils.data,
torch.backends.cudnn, ...) resolve to tinygrad_chain's modules under torch's names; torch
itself is never imported. A name torch has and tinygrad_chain does not fails where the
script reaches for it, naming it: `torch.vmap` raises NotSupportedError ("torch.vmap
is not supported by tinygrad_chain"). NotSupportedError is an AttributeError, so
hasattr(torch, "vmap") and getattr(torch, "vmap", None) answer as for any missing
name; a missing submodule raises ModuleNotFoundError with the same words.

From Python, install() makes the alias (before anything imports torch), in this process and in
those it starts (DataLoader workers, torch.multiprocessing.spawn) with any start method.
"""
import importlib
import importlib.abc
import importlib.machinery
import multiprocessing
import multiprocessing.spawn
import os
import re
import runpy
import sys
import types

_PREFIX, _OURS = "torch", "tinygrad_chain"


class NotSupportedError(AttributeError):
    """A torch name with no counterpart in tinygrad_chain."""


def not_supported(name):
    return (f"{name} is not supported by tinygrad_chain (the torch_compat alias runs this script on it; see "
            f"\"Coming from PyTorch\" in its README for what is missing)")


class _Alias(types.ModuleType):
    """A tinygrad_chain module seen under torch's name: reads and writes go to it."""

    def __init__(self, name, target):
        super().__init__(name, target.__doc__)
        self.__dict__["_target"] = target

    def __getattr__(self, attr):
        target = self.__dict__["_target"]
        try:
            value = getattr(target, attr)
        except AttributeError:
            if attr == "__all__":  # `from torch.nn import *`: the public names of the module behind
                return [n for n in dir(target) if not n.startswith("_")]
            if attr.startswith("__"):
                raise
            raise NotSupportedError(not_supported(f"{self.__name__}.{attr}")) from None
        if isinstance(value, types.ModuleType) and value.__name__.startswith(_OURS):
            return alias(f"{self.__name__}.{attr}", value)
        return value

    def __setattr__(self, attr, value):
        # the import system sets __spec__, __loader__, __path__ and the aliased submodules on
        # the alias itself; a script's settings (torch.backends.cudnn.benchmark = True) go to
        # the module behind
        if attr.startswith("__") or isinstance(value, _Alias):
            super().__setattr__(attr, value)
        else:
            setattr(self.__dict__["_target"], attr, value)

    def __dir__(self):
        return dir(self.__dict__["_target"])


def alias(name, target):
    """The alias module of `target` named `name` (one per name, kept in sys.modules)."""
    existing = sys.modules.get(name)
    if isinstance(existing, _Alias) and existing.__dict__["_target"] is target:
        return existing
    module = _Alias(name, target)
    module.__path__ = []  # a package, so that `import torch.x.y` asks the finder for torch.x.y
    sys.modules[name] = module
    return module


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds torch and torch.* as aliases of tinygrad_chain's modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == _PREFIX or fullname.startswith(_PREFIX + "."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Alias(spec.name, _target_of(spec.name))

    def exec_module(self, module):
        pass


def _target_of(name):
    """tinygrad_chain's module for torch module `name`: imported by its name, or reached as an attribute."""
    ours = _OURS + name[len(_PREFIX):]
    try:
        return importlib.import_module(ours)
    except ModuleNotFoundError as e:
        if e.name != ours:
            raise  # a missing module inside ours: not the script's doing
    parent, _, leaf = ours.rpartition(".")
    value = getattr(sys.modules.get(parent), leaf, None)
    if isinstance(value, types.ModuleType):
        return value
    raise ModuleNotFoundError(f"No module named {name!r}: " + not_supported(name), name=name)


_finder = _Finder()


def install():
    """Make `import torch` resolve to tinygrad_chain in this process and in those it starts."""
    existing = sys.modules.get(_PREFIX)
    if existing is not None and not isinstance(existing, _Alias):
        raise RuntimeError("torch_compat.install(): the real torch is already imported in this process; install "
                           "the alias before anything imports torch")
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    if multiprocessing.spawn.get_command_line is not _aliased_command_line:
        multiprocessing.spawn.get_command_line = _aliased_command_line
        multiprocessing.set_forkserver_preload([_CHILD])


# A process started by spawn, or forked from the forkserver, begins in a fresh interpreter that imports
# the script as its main module, and with it the real torch: each imports _CHILD first, which installs
# the alias (a DataLoader's workers, torch.multiprocessing.spawn). fork copies the alias as it is.
_CHILD = "tinygrad_chain.torch_compat.child"
_spawn_command_line = multiprocessing.spawn.get_command_line


def _aliased_command_line(**kwds):
    cmd = _spawn_command_line(**kwds)
    if "-c" in cmd:  # not in a frozen executable
        i = cmd.index("-c") + 1
        cmd[i] = f"import {_CHILD}; {cmd[i]}"
    return cmd


def uninstall():
    """Undo install(): drop the finder and every alias module."""
    multiprocessing.spawn.get_command_line = _spawn_command_line
    multiprocessing.set_forkserver_preload(["__main__"])
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n, m in sys.modules.items() if isinstance(m, _Alias)]:
        del sys.modules[name]


def main(argv=None):
    """Run the script argv[0] with arguments argv[1:] as __main__, torch aliased."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    install()
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except ImportError as e:  # `from torch import vmap`: Python's message names no module of ours
        missing = re.match(r"cannot import name '([^']+)' from '(torch[\w.]*)'", str(e))
        if missing and hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(not_supported(f"{missing[2]}.{missing[1]}"))
        raise
    return 0


__all__ = ["NotSupportedError", "install", "main", "uninstall"]
