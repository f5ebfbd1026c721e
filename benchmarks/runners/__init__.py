"""One runner module per library. Each defines:

- NAME: the library's name in the results;
- probe(): {"version": str, "devices": [(device, device_type)], "skipped": [(device, reason)]},
  importing the library (raises ImportError when it is not installed);
- configure(threads): called first in the worker, before any work;
- sync(device): waits for the device's queued work (a no-op on the CPU);
- scalar(value): a step's result as a Python float (for the cross-library check);
- WORKLOADS: {workload name: setup(device, data, params) -> step}, where step()
  runs one unit of work and returns its scalar result (a loss, or a sum).

A workload missing from WORKLOADS is reported "unsupported". A setup or a first
step that raises Skip, AttributeError, ImportError or NotImplementedError is
reported "skipped" with the reason (e.g. tc.nn not there yet); any other
exception is "failed".
"""
import importlib

RUNNERS = {
    "tinygrad_chain": "tinygrad_chain_runner",
    "torch": "torch_runner",
    "numpy": "numpy_runner",
    "mygrad": "mygrad_runner",
    "autograd": "autograd_runner",
    "tinygrad": "tinygrad_runner",
    "micrograd": "micrograd_runner",
}


class Skip(Exception):
    """This library cannot run this case here; the message says why."""


def load(library):
    return importlib.import_module(f"{__name__}.{RUNNERS[library]}")
