"""tc.utils.tensorboard: torch's SummaryWriter, accepted and writing nothing.

Training scripts import it unconditionally (karpathy's makemore) and log a few scalars beside the losses they
print. torch's own writer needs the optional `tensorboard` package; this one needs nothing and writes no event
files: every add_* call, flush() and close() is accepted and dropped. The first writer made in a process warns
once, so that nobody waits for logs that never come.
"""
import warnings

_warned = False


class SummaryWriter:
    """torch.utils.tensorboard.SummaryWriter's signature; records nothing (see the module docstring)."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        global _warned
        if not _warned:
            _warned = True
            warnings.warn("tinygrad_chain's SummaryWriter writes nothing: TensorBoard logging is not supported, "
                          "so add_scalar() and the other add_* calls are dropped (print the values instead)",
                          UserWarning, stacklevel=2)
        self.log_dir = log_dir

    def get_logdir(self):
        return self.log_dir

    def _drop(self, *args, **kwargs):
        return None

    # torch's writer has ~20 add_* methods (add_scalar, add_scalars, add_histogram, add_image, add_graph,
    # add_text, add_hparams, ...): each is accepted and dropped; any other name is an AttributeError as in torch.
    def __getattr__(self, name):
        if name.startswith("add_"):
            return self._drop
        raise AttributeError(f"'SummaryWriter' object has no attribute {name!r}")

    flush = close = _drop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
