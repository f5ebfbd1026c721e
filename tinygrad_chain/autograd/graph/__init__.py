"""tc.autograd.graph: pictures of the recorded graph.

    dot = tc.autograd.graph.to_dot(loss, names=dict(model.named_parameters()))
    tc.autograd.graph.render(loss, "graph.svg")

to_dot needs nothing installed. render uses Graphviz when it is there (the `graphviz` Python
package, `pip install 'tinygrad_chain[viz]'`, and the `dot` program, from the system's
`graphviz` package) and otherwise draws a simple layered layout with matplotlib.
"""
import shutil
import warnings
from pathlib import Path

from .dot import dot_text
from .draw import draw
from .model import build

FORMATS = ("svg", "png")


def to_dot(output, show_values=True, show_grads=True, *, names=None, max_elements=6):
    """Graphviz DOT text of the graph behind `output` (a tensor or a list of tensors).

    Tensors are ellipses (name from `names` = {name: tensor}, shape, dtype, device, the value
    of those with at most `max_elements` elements, and the .grad they hold after a backward);
    ops are boxes with their registered names. An edge between one-element tensors carries the
    local derivative (×d, from the op's VJP) and, with show_grads and a one-element output, every
    edge carries the gradient that flowed along it (its value, or its norm). Edge labels need
    the saved tensors: after a backward without retain_graph=True they are left out.
    """
    return dot_text(build(output, names, show_values, show_grads, max_elements))


def render(output, path, format=None, *, engine="auto", names=None, show_values=True,  # noqa: A002
           show_grads=True, max_elements=6):
    """Draw the graph behind `output` to `path` as SVG or PNG; returns the path written.

    format: "svg" or "png"; by default the path's suffix (or svg, added to a path without one).
    engine: "graphviz" (error if it is missing), "matplotlib" (the simple layered layout), or
        "auto": Graphviz when installed, else matplotlib, with a warning that says what to install.
    """
    path, fmt = _target(path, format)
    graph = build(output, names, show_values, show_grads, max_elements)
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise ValueError(f"render: engine must be 'auto', 'graphviz' or 'matplotlib', got {engine!r}")
    if engine != "matplotlib":
        reason = graphviz_missing()
        if reason is None:
            import graphviz
            path.write_bytes(graphviz.Source(dot_text(graph)).pipe(format=fmt))
            return path
        if engine == "graphviz":
            raise RuntimeError(f"render(engine='graphviz'): {reason}")
        warnings.warn(f"render: {reason}; drawing a simple layout with matplotlib instead", stacklevel=2)
    try:
        draw(graph, path, fmt)
    except ImportError as e:
        raise RuntimeError(f"render: neither Graphviz nor matplotlib is usable ({e}); install one, e.g. "
                           f"pip install 'tinygrad_chain[viz]' and the system's graphviz package, or use "
                           f"to_dot() for the text") from None
    return path


def graphviz_missing():
    """None when Graphviz can render here, else why not (and what to install)."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return "the graphviz Python package is not installed (pip install 'tinygrad_chain[viz]')"
    if shutil.which("dot") is None:
        return ("Graphviz's dot program is not on PATH; it is not a Python package: install the system's "
                "graphviz (apt-get install graphviz, brew install graphviz, or from graphviz.org)")
    return None


def _target(path, format):  # noqa: A002
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    fmt = (format or suffix or "svg").lower()
    if fmt not in FORMATS:
        raise ValueError(f"render: format must be one of {FORMATS}, got {fmt!r}")
    if suffix in FORMATS and suffix != fmt:
        raise ValueError(f"render: path {str(path)!r} ends in .{suffix} but format is {fmt!r}")
    if suffix != fmt:
        path = path.with_name(path.name + "." + fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, fmt


__all__ = ["graphviz_missing", "render", "to_dot"]
