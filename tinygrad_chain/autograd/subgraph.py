"""The part of the tape that explains a gradient: the nodes on a path from a source to an output.

On the tape a leaf tensor is the parent object itself and an interior tensor is the node that
made it, so a source is either. Nothing here changes the tape: it is only read.
"""
from .node import Node


def ancestors(roots):
    """Every node reachable from `roots` (nodes), in creation order. Iterative: deep graphs work."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for p in stack.pop().parents:
            if type(p) is Node and p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(seen, key=_seq)


def _seq(node):
    return node.seq


def tape_key(t):
    """What stands for tensor `t` on the tape: its node, or the leaf itself."""
    return t.grad_fn if t.grad_fn is not None else t


class Subgraph:
    """The nodes of `output`'s graph that `source` reaches (all of them when source is None).

    nodes:  those nodes, latest first (the order a backward pass visits them)
    meta:   node -> (shape, dtype, backend) of the tensor it made, as its consumers recorded it
    """

    def __init__(self, output, source=None):
        self.output = output
        self.root = output.grad_fn
        self.source = source
        everything = ancestors([self.root])
        if source is None:
            keep = everything
        else:
            reached = {source} if type(source) is Node else set()
            keep = []
            for node in everything:  # creation order: a node's parents are decided before it
                if any(p is source or (type(p) is Node and p in reached) for p in node.parents):
                    reached.add(node)
                    keep.append(node)
        self.members = set(keep)
        self.nodes = keep[::-1]
        self.meta = {self.root: (output.shape, output.dtype, output._b)}
        for node in keep:
            for p, m in zip(node.parents, node.in_meta):
                if type(p) is Node:
                    self.meta[p] = m

    def wanted(self, parent):
        """Whether a gradient flowing to `parent` belongs to the explanation."""
        if parent is None:
            return False
        if self.source is None:
            return True
        return parent is self.source or (type(parent) is Node and parent in self.members)

    def check_saved(self):
        """The error a second backward would raise, if the forward's saved tensors are gone."""
        for node in self.nodes:
            node.check_saved()
