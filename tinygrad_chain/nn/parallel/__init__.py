"""tc.nn.parallel: DataParallel, a pass-through on the one device."""
from .data_parallel import DataParallel  # noqa: F401,E402  (a pass-through on the one device)
