"""DataParallel: torch's single-process wrapper, as a pass-through on the one device here.

torch splits each batch across the GPUs of one machine; tinygrad_chain drives one
device, so the wrapped module runs the whole batch itself. Scripts that wrap their
model keep working, and their checkpoints keep torch's "module." key prefix.
"""
import warnings

from ..module import Module


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids is not None and len(device_ids) > 1:
            warnings.warn(f"DataParallel: device_ids={list(device_ids)} asks for several devices; tinygrad_chain "
                          f"drives one, so the whole batch runs on it", stacklevel=2)
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
