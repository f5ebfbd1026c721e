"""tc.utils.dlpack: torch.utils.dlpack's two functions (capsules, the older form of the exchange)."""
from tinygrad_chain.creation import from_dlpack  # noqa: F401  (takes a capsule or any __dlpack__ object)


def to_dlpack(tensor):
    """A DLPack capsule sharing `tensor`'s memory; it can be consumed once (tensor.__dlpack__())."""
    return tensor.__dlpack__()
