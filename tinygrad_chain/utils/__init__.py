"""tc.utils: data loading (tc.utils.data), DLPack capsules (tc.utils.dlpack), a SummaryWriter that writes
nothing (tc.utils.tensorboard)."""
from . import data, dlpack  # noqa: F401
