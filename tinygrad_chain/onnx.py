"""tc.onnx: importable, as scripts import torch.onnx; exporting is not supported.

An ONNX exporter needs a traced graph of a model's forward pass in ONNX's operator set;
tinygrad_chain records only the backward tape, so there is nothing to export from.
"""


class OnnxNotSupportedError(NotImplementedError):
    pass


def export(model, args=None, f=None, *rest, **kwargs):
    """Not supported: raises, saying so."""
    raise OnnxNotSupportedError("tc.onnx.export: exporting to ONNX is not supported by tinygrad_chain. Save the "
                                "weights with tc.save(model.state_dict(), path) instead.")


def is_in_onnx_export():
    """Always False: nothing here ever exports."""
    return False
