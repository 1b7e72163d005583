"""Modules, layers, losses and initialisation (PyTorch's `torch.nn` names).

>>> import tinygrad_nv.nn as nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
>>> loss = nn.functional.cross_entropy(model(x), y)
"""

from tinygrad_nv.nn import functional, init, utils
from tinygrad_nv.nn.containers import ModuleDict, ModuleList, ParameterList
from tinygrad_nv.nn.layers import (
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from tinygrad_nv.nn.module import IncompatibleKeys, Module, Parameter

__all__ = ["functional", "init", "utils", "Module", "Parameter", "IncompatibleKeys", "Linear",
           "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "LayerNorm",
           "BatchNorm1d", "BatchNorm2d", "Embedding", "Sequential", "Identity", "ReLU",
           "Sigmoid", "Tanh", "SiLU", "GELU", "LeakyReLU", "Softmax", "LogSoftmax"]
__all__ += ["ModuleList", "ModuleDict", "ParameterList"]
