"""Modules, layers, losses and initialisation (PyTorch's `torch.nn` names).

>>> import tinygrad_nv.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
>>> loss = nn.functional.cross_entropy(model(x), y)
"""

from tinygrad_nv.nn import functional, init, modules, parallel, utils
from tinygrad_nv.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from tinygrad_nv.nn.attention import MultiheadAttention, TransformerEncoderLayer
from tinygrad_nv.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from tinygrad_nv.nn.conv import (
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from tinygrad_nv.nn.distance import Bilinear, CosineSimilarity, PairwiseDistance
from tinygrad_nv.nn.dropout import (
    AlphaDropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    FeatureAlphaDropout,
)
from tinygrad_nv.nn.fold import Fold, PixelShuffle, PixelUnshuffle, Unfold
from tinygrad_nv.nn.layers import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    Dropout,
    Flatten,
    GroupNorm,
    Identity,
    LayerNorm,
    Linear,
    Sequential,
    Unflatten,
)
from tinygrad_nv.nn.lazy import LazyConv1d, LazyConv2d, LazyLinear
from tinygrad_nv.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from tinygrad_nv.nn.module import IncompatibleKeys, Module, Parameter
from tinygrad_nv.nn.normalization import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
    RMSNorm,
)
from tinygrad_nv.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from tinygrad_nv.nn.parallel import DataParallel
from tinygrad_nv.nn.parameter import UninitializedParameter
from tinygrad_nv.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    LPPool1d,
    LPPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
)
from tinygrad_nv.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygrad_nv.nn.sparse import Embedding, EmbeddingBag
from tinygrad_nv.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
)

__all__ = ["functional", "init", "utils", "Module", "Parameter", "IncompatibleKeys", "Linear",
           "Identity", "Flatten", "Unflatten", "Dropout", "LayerNorm", "GroupNorm",
           "BatchNorm1d", "BatchNorm2d", "Embedding", "Sequential", "Conv1d", "Conv2d",
           "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample",
           "RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer",
           "ReLU", "ReLU6", "LeakyReLU", "Hardtanh", "Sigmoid", "Hardsigmoid", "LogSigmoid",
           "Tanh", "GELU", "SiLU", "Hardswish", "Mish", "Softplus", "Softsign", "ELU", "SELU",
           "CELU", "GLU", "Softmax", "Softmin", "LogSoftmax", "PReLU", "CrossEntropyLoss",
           "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss",
           "HuberLoss", "KLDivLoss"]
__all__ += ["ModuleList", "ModuleDict", "ParameterList"]
__all__ += ["parallel", "DataParallel", "modules"]
__all__ += ["RMSNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
            "LocalResponseNorm"]
__all__ += ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
__all__ += ["MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d",
            "AdaptiveMaxPool2d"]
__all__ += ["Fold", "Unfold", "PixelShuffle", "PixelUnshuffle"]
__all__ += ["Bilinear", "CosineSimilarity", "PairwiseDistance"]
__all__ += ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
            "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
            "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
            "CircularPad2d", "CircularPad3d"]
__all__ += ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerDecoderLayer"]
__all__ += ["RNNCell", "LSTMCell", "GRUCell"]
__all__ += ["CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss",
            "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss",
            "CTCLoss"]
__all__ += ["Threshold", "RReLU", "Hardshrink", "Softshrink", "Tanhshrink", "Softmax2d",
            "ParameterDict"]
__all__ += ["ConvTranspose1d", "BatchNorm3d"]
__all__ += ["SoftMarginLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss",
            "TripletMarginWithDistanceLoss"]
__all__ += ["UpsamplingNearest2d", "UpsamplingBilinear2d"]
__all__ += ["EmbeddingBag"]
__all__ += ["LazyLinear", "LazyConv1d", "LazyConv2d", "UninitializedParameter"]
__all__ += ["MaxUnpool1d", "MaxUnpool2d", "LPPool1d", "LPPool2d"]
