"""tc.utils: data loading (tc.utils.data)."""
from . import data  # noqa: F401
