"""Sorting: the one primitive is argsort; sort, topk, kthvalue and median gather
their values with it (tensor_sort.py), so their gradients flow through gather's
VJP, a scatter-add that is itself differentiable."""
from .registry import Op, register


@register
class Argsort(Op):
    """int64 indices that sort x along `axis`: stable, NaN as the largest value."""
    name = "argsort"
    differentiable = False
    sets_dtype = True

    def forward(self, b, x, axis, descending=False):
        return b.argsort(x, axis, descending)
