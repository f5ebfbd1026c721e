"""tc.nn: neural-network building blocks, with torch's names and semantics."""
from . import functional, init, utils  # noqa: F401
from .activation import (ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU,  # noqa: F401
                         Softmax, Softmin, Softplus, Tanh)
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d  # noqa: F401
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten  # noqa: F401
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,  # noqa: F401
                   SmoothL1Loss)
from .module import Module  # noqa: F401
from .layers_more import (CELU, GLU, SELU, CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d,  # noqa: F401
                          ConstantPad2d, ConstantPad3d, CosineEmbeddingLoss, CosineSimilarity, GaussianNLLLoss,
                          Hardshrink, Hardsigmoid, Hardswish, Hardtanh, HingeEmbeddingLoss, InstanceNorm1d,
                          InstanceNorm2d, InstanceNorm3d, KLDivLoss, LocalResponseNorm, MarginRankingLoss, Mish,
                          MultiLabelSoftMarginLoss, MultiMarginLoss, PairwiseDistance, PoissonNLLLoss, PReLU,
                          ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                          ReplicationPad3d, RMSNorm, RReLU, Softshrink, Softsign, SoftMarginLoss, Tanhshrink,
                          Threshold, TripletMarginLoss, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d,
                          ZeroPad1d, ZeroPad2d, ZeroPad3d, Unfold, Fold, MaxUnpool2d, Softmax2d, ChannelShuffle,
                          AlphaDropout, LazyLinear)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,  # noqa: F401
                      AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell  # noqa: F401
from .sparse import Embedding, EmbeddingBag  # noqa: F401
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,  # noqa: F401
                          TransformerEncoder, TransformerEncoderLayer)
from .parallel.data_parallel import DataParallel  # noqa: F401,E402  (a pass-through on the one device)
from . import modules  # noqa: F401,E402  (torch's import paths: tc.nn.modules.loss.MSELoss; after every layer)
