"""tc.nn.parallel: DistributedDataParallel (over tc.distributed), and DataParallel, a pass-through on the one device."""
from .data_parallel import DataParallel  # noqa: F401
from .distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "DistributedDataParallel"]
