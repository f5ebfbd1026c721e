"""PyTorch on CPU and, when present, CUDA: the yardstick of every ratio."""
import torch

from benchmarks.runners import torchlike

NAME = "torch"


def probe():
    devices, skipped = [("cpu", "cpu")], []
    if torch.cuda.is_available():
        devices.append(("cuda", "cuda"))
    else:
        skipped.append(("cuda", "torch.cuda.is_available() is False"))
    return {"version": torch.__version__, "devices": devices, "skipped": skipped}


def configure(threads):
    torch.set_num_threads(threads)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


scalar = torchlike.scalar
WORKLOADS = torchlike.workloads(torch)
