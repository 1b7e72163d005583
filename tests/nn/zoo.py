"""One instance of every Module class in tinygrad_nv.nn, built from its signature (the tests
that must cover every layer: copies, parameters, input checks)."""

import inspect

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor

# constructor arguments by parameter name (a new layer with a new required argument name
# needs an entry here)
ARGUMENTS = {
    "output_size": 4, "kernel_size": 2, "num_features": 4, "in_features": 3,
    "out_features": 3, "in1_features": 3, "in2_features": 2, "in_channels": 4,
    "out_channels": 4, "padding": 1, "value": 0.5, "num_embeddings": 5, "embedding_dim": 4,
    "input_size": 4, "hidden_size": 4, "num_groups": 2, "num_channels": 4,
    "normalized_shape": 4, "size": 3, "embed_dim": 4, "d_model": 4, "num_heads": 2,
    "nhead": 2, "upscale_factor": 2, "downscale_factor": 2, "dim": 1, "threshold": 0.1,
    "norm_type": 2.0,
    "unflattened_size": (2, 2), "module": lambda: nn.Linear(2, 3), "num_layers": 2,
    "encoder_layer": lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8),
    "decoder_layer": lambda: nn.TransformerDecoderLayer(4, 2, dim_feedforward=8),
}
CONTAINERS = {
    "Sequential": lambda: nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)),
    "ModuleList": lambda: nn.ModuleList([nn.Linear(2, 2), nn.Tanh()]),
    "ModuleDict": lambda: nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.BatchNorm1d(2)}),
    "ParameterList": lambda: nn.ParameterList([Tensor.ones(2), Tensor.zeros(3)]),
    "ParameterDict": lambda: nn.ParameterDict({"a": Tensor.ones(2), "b": Tensor.zeros(3)}),
}


def module_classes() -> list[str]:
    """The names of every Module class nn exports."""
    return sorted(n for n in nn.__all__ if inspect.isclass(getattr(nn, n))
                  and issubclass(getattr(nn, n), nn.Module))


def build(name: str) -> nn.Module:
    """An instance of nn.<name> with small sizes."""
    if name in CONTAINERS:
        return CONTAINERS[name]()
    cls = getattr(nn, name)
    kwargs = {}
    for pname, param in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        if param.default is inspect.Parameter.empty and param.kind not in (
                param.VAR_POSITIONAL, param.VAR_KEYWORD):
            assert pname in ARGUMENTS, f"give nn.{name}'s argument {pname!r} a test value"
            value = ARGUMENTS[pname]
            kwargs[pname] = value() if callable(value) else value
    return cls(**kwargs)
