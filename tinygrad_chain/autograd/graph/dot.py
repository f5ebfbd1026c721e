"""Graphviz DOT text for a graph model: no dependency, and the same text for the same computation."""

STYLE = {
    "leaf": 'shape=ellipse, style=filled, fillcolor="#cfe2f3"',
    "tensor": "shape=ellipse",
    "output": 'shape=ellipse, style=filled, fillcolor="#f9cb9c"',
    "op": 'shape=box, style="rounded,filled", fillcolor="#eeeeee"',
}


def dot_text(graph):
    lines = ["digraph autograd {",
             "  rankdir=LR;",  # left to right, as a path reads: x -> mul -> pow -> g
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for v in graph.vertices:
        lines.append(f"  {v.id} [{STYLE[v.kind]}, label={_quote(v.lines)}];")
    for e in graph.edges:
        lines.append(f"  {e.src} -> {e.dst}" + (f" [label={_quote(e.label.split(chr(10)))}];" if e.label else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(lines):
    """A DOT string literal; each line ends in \\n (centred), the escape DOT reads as a line break."""
    text = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return f'"{text}"'
