"""The printed form of an Explanation: a table of paths, then the per-edge flows of tensor graphs."""
import math

FACTORS_SHOWN = 10  # a longer path shows its first and last few factors
ROUTE_WIDTH = 72    # a longer route shows its first and last few steps


def format_explanation(ex, rows=20):
    lines = [f"d{ex.output}/d{ex.input} = {_gradient(ex.gradient)}  (autograd, by the VJPs)"]
    if ex.total_paths:
        lines += _paths_table(ex, rows)
    if ex.message:
        lines += ["", ex.message]
    if ex.edges and (ex.total_paths is None or any(math.prod(f.shape) > 1 for f in ex.edges)):
        lines += [""] + _flows_table(ex)
    lines += [f"note: {n}" for n in ex.notes]
    return "\n".join(lines)


def _paths_table(ex, rows):
    shown = ex.paths[:rows]
    routes = [p.route() for p in shown]
    slots = len(set(routes)) < len(routes)  # same ops, different inputs (x * x): say which input
    body, running = [], 0.0
    for i, p in enumerate(shown, 1):
        running += p.product
        body.append((str(i), _route(p, slots), _factors(p.factors), f"{p.product:.6g}", f"{running:.6g}"))
    head = ("#", "path", "local derivatives", "product", "running sum")
    lines = [f"{ex.total_paths} path{'s' if ex.total_paths != 1 else ''} from {ex.input} to {ex.output}; "
             f"each adds the product of the local derivatives along it", ""]
    lines += _grid([head] + body, right=(0, 3, 4))
    if len(ex.paths) > len(shown):
        lines.append(f"  ... {len(ex.paths) - len(shown)} more listed in .paths")
    if slots:
        lines.append("  (op@k: the path enters the op by its input k)")
    difference = ex.path_sum - ex.gradient if isinstance(ex.gradient, float) else float("nan")
    over = "the path" if ex.total_paths == 1 else f"all {ex.total_paths} paths"
    lines.append(f"sum over {over}: {ex.path_sum:.10g}; autograd: {ex.gradient:.10g} (difference {difference:.3g})")
    return lines


def _flows_table(ex):
    top = ex.top_edges()
    lines = [f"what flowed along each edge (the VJP: its shape and norm), the {len(top)} largest of "
             f"{len(ex.edges)}:"]
    body = [(f.into, f.op, str(f.input), str(list(f.shape)), f"{f.norm:.4g}") for f in top]
    lines += _grid([("into", "from op", "input", "shape", "norm")] + body, right=(2, 4))
    lines.append("per op (the flows out of every node of that op):")
    body = [(o.op, str(o.nodes), str(o.edges), f"{o.total_norm:.4g}", f"{o.max_norm:.4g}") for o in ex.per_op]
    lines += _grid([("op", "nodes", "edges", "total norm", "largest")] + body, right=(1, 2, 3, 4))
    return lines


def _grid(rows, right=()):
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(cell.rjust(w) if c in right else cell.ljust(w)
                             for c, (cell, w) in enumerate(zip(r, widths))).rstrip() for r in rows]


def _route(path, slots):
    text = path.route(slots)
    if len(text) <= ROUTE_WIDTH:
        return text
    parts = text.split(" -> ")
    return " -> ".join(parts[:3] + [f"...({len(parts) - 6} more)"] + parts[-3:])


def _factors(factors):
    shown = [f"{f:.4g}" for f in factors]
    if len(shown) > FACTORS_SHOWN:
        shown = shown[:3] + [f"...({len(shown) - 6} more)"] + shown[-3:]
    return " × ".join(shown) if shown else "(none: the input is the output)"


def _gradient(g):
    if isinstance(g, float):
        return f"{g:.10g}"
    return f"an array of shape {list(g.shape)}, norm {float((g.astype(float) ** 2).sum()) ** 0.5:.6g}"
