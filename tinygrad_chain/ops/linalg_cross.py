"""The cross product of 3-vectors, with its VJP as cross products (so it differentiates again)."""
from .linalg_solve import torch_type_name
from .registry import Op, apply, register


@register
class Cross(Op):
    name = "linalg_cross"
    backward_name = "LinalgCrossBackward0"
    saves_inputs = True

    def check(self, a, b, axis=-1):
        if a.ndim != b.ndim:
            raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
        if a.shape[axis] != 3 or b.shape[axis] != 3:
            raise RuntimeError(f"linalg.cross: inputs dimension {axis} must have length 3. Got {a.shape[axis]} and "
                               f"{b.shape[axis]}")
        if a.dtype is not b.dtype:
            raise RuntimeError(f"expected scalar type {torch_type_name(a.dtype)} but found {torch_type_name(b.dtype)}")

    def forward(self, backend, a, b, axis=-1):
        return backend.cross(a, b, axis)

    def vjp(self, ctx, g):
        # g . (a x b) = a . (b x g) = b . (g x a)
        a, b = ctx.inputs
        axis = ctx.attrs.get("axis", -1)
        need_a, need_b = ctx.needs_input_grad
        return (apply(Cross, b, g, axis=axis) if need_a else None, apply(Cross, g, a, axis=axis) if need_b else None)
