"""tc.nn.utils: gradient clipping, parameter/vector conversion, and the gradient-flow report."""
from .clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .gradient_flow import GradientFlow, ParamFlow, gradient_flow  # noqa: F401
