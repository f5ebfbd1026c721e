"""One runner module per library. Each defines:

- NAME: the library's name in the results;
- probe(): {"version": str, "devices": [(device, device_type)], "skipped": [(device, reason)]},
  importing the library (raises ImportError when it is not installed);
- configure(threads): called first in the worker, before any work;
- sync(device): waits for the device's queued work (a no-op on the CPU);
- scalar(value): a step's result as a Python float (for the cross-library check);
- WORKLOADS: {workload name: setup(device, data, params) -> step}, where step()
  runs one unit of work and returns its scalar result (a loss, or a sum).

A runner may also define compile_step(step) -> step, the step captured once and replayed
(tinygrad_chain's tc.compile); its probe then lists devices such as "cpp+compiled".

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


# what a newcomer runs to get a peer that is not installed
HOW_TO_GET = 'pip install -e ".[bench]" (the extra installs torch and every peer library)'
VARIANT = "+"  # a device name such as "cpp+compiled": the device, then the variant


def split_variant(device):
    """("cpp", "compiled") for "cpp+compiled"; (device, None) for a plain device."""
    base, _, variant = device.partition(VARIANT)
    return base, variant or None


class Skip(Exception):
    """This library cannot run this case here; the message says why."""


def load(library):
    return importlib.import_module(f"{__name__}.{RUNNERS[library]}")
