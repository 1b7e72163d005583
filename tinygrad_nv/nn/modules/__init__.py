"""PyTorch's `torch.nn.modules` layout, for programs that name it:
`nn.modules.linear.NonDynamicallyQuantizableLinear`, `isinstance(m,
nn.modules.batchnorm._BatchNorm)`, custom losses subclassing `nn.modules.loss._Loss`,
`from torch.nn.modules.utils import _pair`. Each submodule but utils is a module object made
from the table below and registered in sys.modules (Python's import finds it there), holding
the classes PyTorch keeps in it; the classes themselves live in nn/<kind>.py.

>>> import tinygrad_nv.nn.modules.conv
>>> isinstance(nn.Conv2d(1, 1, 3), nn.modules.conv._ConvNd)          # True
"""

from __future__ import annotations

import importlib
import sys
import types

from tinygrad_nv.nn.modules import utils

# the nn/<kind>.py files that define the classes
_SOURCES = ("activation", "attention", "containers", "conv", "distance", "dropout", "fold",
            "layers", "lazy", "loss", "module", "normalization", "padding", "pooling",
            "recurrent", "sparse", "transformer")

# torch.nn.modules.<name>: the names PyTorch keeps there that we have (private bases included)
LAYOUT = {
    "activation": "ReLU ReLU6 LeakyReLU Hardtanh Sigmoid Hardsigmoid LogSigmoid Tanh GELU SiLU "
                  "Hardswish Mish Softplus Softsign ELU SELU CELU GLU Softmax Softmin "
                  "LogSoftmax PReLU MultiheadAttention Threshold RReLU Hardshrink Softshrink "
                  "Tanhshrink Softmax2d",
    "batchnorm": "BatchNorm1d BatchNorm2d BatchNorm3d _NormBase _BatchNorm",
    "container": "Sequential ModuleList ModuleDict ParameterList ParameterDict",
    "conv": "Conv1d Conv2d ConvTranspose1d ConvTranspose2d LazyConv1d LazyConv2d _ConvNd "
            "_ConvTransposeNd _LazyConvXdMixin",
    "distance": "PairwiseDistance CosineSimilarity",
    "dropout": "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout "
               "_DropoutNd",
    "flatten": "Flatten Unflatten",
    "fold": "Fold Unfold",
    "instancenorm": "InstanceNorm1d InstanceNorm2d InstanceNorm3d _InstanceNorm",
    "lazy": "LazyModuleMixin",
    "linear": "Identity Linear Bilinear LazyLinear NonDynamicallyQuantizableLinear",
    "loss": "L1Loss NLLLoss PoissonNLLLoss GaussianNLLLoss KLDivLoss MSELoss BCELoss "
            "BCEWithLogitsLoss SmoothL1Loss HuberLoss CrossEntropyLoss MultiLabelSoftMarginLoss "
            "CosineEmbeddingLoss MarginRankingLoss MultiMarginLoss TripletMarginLoss CTCLoss "
            "SoftMarginLoss HingeEmbeddingLoss MultiLabelMarginLoss "
            "TripletMarginWithDistanceLoss _Loss _WeightedLoss",
    "module": "Module",
    "normalization": "LocalResponseNorm LayerNorm GroupNorm RMSNorm",
    "padding": "CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d "
               "ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d "
               "ReplicationPad2d ReplicationPad3d ZeroPad1d ZeroPad2d ZeroPad3d _ConstantPadNd",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "pooling": "MaxPool1d MaxPool2d AvgPool1d AvgPool2d AdaptiveMaxPool1d AdaptiveMaxPool2d "
               "AdaptiveAvgPool1d AdaptiveAvgPool2d MaxUnpool1d MaxUnpool2d LPPool1d LPPool2d "
               "_MaxPoolNd _AvgPoolNd _AdaptiveAvgPoolNd _AdaptiveMaxPoolNd _MaxUnpoolNd "
               "_LPPoolNd",
    "rnn": "RNNBase RNN LSTM GRU RNNCellBase RNNCell LSTMCell GRUCell",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer "
                   "TransformerDecoderLayer",
    "upsampling": "Upsample UpsamplingNearest2d UpsamplingBilinear2d",
}
_CLASSES = {name: value for source in _SOURCES
            for name, value in vars(importlib.import_module(f"tinygrad_nv.nn.{source}")).items()
            if isinstance(value, type)}
_CLASSES.update(RNNBase=_CLASSES["_RNNBase"], RNNCellBase=_CLASSES["_CellBase"])

__all__ = ["utils"]
for _name, _names in LAYOUT.items():
    _sub = types.ModuleType(f"{__name__}.{_name}", f"PyTorch's torch.nn.modules.{_name}.")
    _sub.__package__ = __name__
    _sub.__all__ = [n for n in _names.split() if not n.startswith("_")]
    _sub.__dict__.update({n: _CLASSES[n] for n in _names.split()})
    sys.modules[_sub.__name__] = globals()[_name] = _sub
    globals().update({n: _CLASSES[n] for n in _sub.__all__})  # nn.modules.Linear, as PyTorch
    __all__ += [_name, *_sub.__all__]
