"""A layered drawing of a graph model with matplotlib, for when Graphviz is not installed.

Left to right, as DOT's rankdir=LR: each vertex one column after its latest input (a leaf
just before its first consumer), rows ordered by the mean row of the neighbours (a few
sweeps of the barycentre heuristic, which untangles most crossings of small graphs).
Sizes are in inches, estimated from the text, so the boxes fit their labels.
"""
from collections import defaultdict

CHAR_W, LINE_H = 0.058, 0.17   # inches per character and per line at FONT points
FONT, EDGE_FONT = 8, 7
GAP_X, GAP_Y = 0.75, 0.3
COLOURS = {"leaf": "#cfe2f3", "tensor": "#ffffff", "output": "#f9cb9c", "op": "#eeeeee"}


def draw(graph, path, fmt):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # not pyplot: no backend switch, no figure left open
    from matplotlib.patches import FancyArrowPatch

    columns = _columns(graph)
    size = {v.id: (max(map(len, v.lines)) * CHAR_W + 0.2, len(v.lines) * LINE_H + 0.16) for v in graph.vertices}
    xs, width = _x_positions(columns, size)
    row_h = max(h for _, h in size.values()) + GAP_Y
    height = max(len(c) for c in columns) * row_h
    pos = {}
    for c, col in enumerate(columns):
        top = (height + len(col) * row_h) / 2
        for r, vid in enumerate(col):
            pos[vid] = (xs[c], top - (r + 0.5) * row_h)

    fig = Figure(figsize=(max(width, 1.0), max(height, 0.6)))
    FigureCanvasAgg(fig)  # a renderer, to measure the boxes
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, max(width, 1.0))
    ax.set_ylim(0, max(height, 0.6))
    ax.axis("off")
    kinds = {v.id: v.kind for v in graph.vertices}
    texts = {}
    for v in graph.vertices:
        box = "round,pad=0.25" if v.kind == "op" else "round4,pad=0.3"
        texts[v.id] = ax.text(*pos[v.id], "\n".join(v.lines), ha="center", va="center", fontsize=FONT, zorder=3,
                              bbox=dict(boxstyle=box, fc=COLOURS[v.kind], ec="#555555", lw=0.8))
    half = _half_widths(fig, ax, texts)  # measured, so arrows meet the boxes
    for e in graph.edges:
        (x0, y0), (x1, y1) = pos[e.src], pos[e.dst]
        start, end = (x0 + half[e.src], y0), (x1 - half[e.dst], y1)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=0.8, color="#444444",
                                     zorder=2, shrinkA=1, shrinkB=1))
        if e.label:
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, e.label, ha="center", va="center",
                    fontsize=EDGE_FONT, zorder=4, color="#1f4e79" if kinds[e.src] != "op" else "#333333",
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.85))
    fig.savefig(path, format=fmt, dpi=110)


def _half_widths(fig, ax, texts):
    """Half the drawn width of each vertex's box, in data units (inches here)."""
    renderer = fig.canvas.get_renderer()
    to_data = ax.transData.inverted()
    half = {}
    for vid, t in texts.items():
        t.update_bbox_position_size(renderer)
        (x0, _), (x1, _) = to_data.transform(t.get_bbox_patch().get_window_extent(renderer).get_points())
        half[vid] = (x1 - x0) / 2
    return half


def _columns(graph):
    """Vertex ids per column, rows ordered to reduce crossings."""
    preds, succs = defaultdict(list), defaultdict(list)
    for e in graph.edges:
        preds[e.dst].append(e.src)
        succs[e.src].append(e.dst)
    order = _topological(graph, preds, succs)
    col = {}
    for vid in order:
        col[vid] = 1 + max((col[p] for p in preds[vid]), default=-1)
    for vid in reversed(order):  # a source sits just before its first consumer, not far left
        if not preds[vid] and succs[vid]:
            col[vid] = min(col[s] for s in succs[vid]) - 1
    base = min(col.values(), default=0)
    columns = [[] for _ in range(max(col.values(), default=0) - base + 1)]
    for vid in order:
        columns[col[vid] - base].append(vid)
    for _ in range(4):  # barycentre sweeps: rightwards by inputs, leftwards by consumers
        _sweep(columns, preds)
        _sweep(columns[::-1], succs)
    return columns


def _topological(graph, preds, succs):
    missing = {v.id: len(preds[v.id]) for v in graph.vertices}
    ready = [v.id for v in graph.vertices if not missing[v.id]]
    order = []
    while ready:
        vid = ready.pop(0)
        order.append(vid)
        for s in succs[vid]:
            missing[s] -= 1
            if not missing[s]:
                ready.append(s)
    return order


def _sweep(columns, neighbours):
    for prev, col in zip(columns, columns[1:]):
        row = {vid: r for r, vid in enumerate(prev)}
        def centre(vid, r):
            near = [row[n] for n in neighbours[vid] if n in row]
            return (sum(near) / len(near) if near else r, r)
        col[:] = [vid for _, vid in sorted((centre(vid, r), vid) for r, vid in enumerate(col))]


def _x_positions(columns, size):
    xs, x = [], GAP_X / 2
    for col in columns:
        w = max(size[v][0] for v in col)
        xs.append(x + w / 2)
        x += w + GAP_X
    return xs, x - GAP_X / 2
