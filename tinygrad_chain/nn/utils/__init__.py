"""tc.nn.utils: gradient clipping, parameter/vector conversion, packed sequences (rnn), weight and spectral
norm, and the gradient-flow report."""
from . import parametrizations, parametrize, rnn  # noqa: F401
from .clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .gradient_flow import GradientFlow, ParamFlow, gradient_flow  # noqa: F401
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm  # noqa: F401
