"""tc.utils: data loading (tc.utils.data), DLPack capsules (tc.utils.dlpack)."""
from . import data, dlpack  # noqa: F401
