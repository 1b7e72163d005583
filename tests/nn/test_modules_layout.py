"""nn.modules: PyTorch's submodule layout (torch.nn.modules.linear, .loss, .utils, ...) holding
our classes, its private bases, the import statements programs write, and the torch alias."""

import subprocess
import sys

import pytest

from tinygrad_nv import Tensor, nn
from tinygrad_nv.nn.modules import LAYOUT
from tinygrad_nv.nn.modules.utils import (
    _ntuple,
    _pair,
    _quadruple,
    _single,
    _triple,
    consume_prefix_in_state_dict_if_present,
)


@pytest.mark.parametrize("sub", sorted(LAYOUT))
def test_every_torch_name_we_have_is_in_its_submodule_as_nn_has_it(sub):
    torch = pytest.importorskip("torch")
    ours = sys.modules[f"tinygrad_nv.nn.modules.{sub}"]
    theirs = getattr(torch.nn.modules, sub).__all__
    have = [n for n in theirs if hasattr(nn, n) or n in ("RNNBase", "RNNCellBase",
                                                        "LazyModuleMixin")]
    assert have and set(have) <= set(ours.__all__)
    for name in have:
        if hasattr(nn, name):
            assert getattr(ours, name) is getattr(nn, name), name
            assert getattr(nn.modules, name) is getattr(nn, name), name
    assert set(ours.__all__) <= set(theirs) | {"NonDynamicallyQuantizableLinear"}


@pytest.mark.parametrize("sub,base,classes", [
    ("conv", "_ConvNd", ("Conv1d", "Conv2d", "ConvTranspose2d")),
    ("batchnorm", "_BatchNorm", ("BatchNorm1d", "BatchNorm2d")),
    ("batchnorm", "_NormBase", ("BatchNorm2d", "InstanceNorm2d")),
    ("instancenorm", "_InstanceNorm", ("InstanceNorm1d", "InstanceNorm3d")),
    ("loss", "_Loss", ("MSELoss", "CrossEntropyLoss", "CTCLoss")),
    ("loss", "_WeightedLoss", ("CrossEntropyLoss", "NLLLoss", "BCELoss")),
    ("dropout", "_DropoutNd", ("Dropout", "Dropout2d", "AlphaDropout")),
    ("pooling", "_MaxPoolNd", ("MaxPool1d", "MaxPool2d")),
    ("pooling", "_AvgPoolNd", ("AvgPool1d", "AvgPool2d")),
    ("pooling", "_AdaptiveAvgPoolNd", ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d")),
    ("pooling", "_AdaptiveMaxPoolNd", ("AdaptiveMaxPool1d", "AdaptiveMaxPool2d")),
    ("rnn", "RNNBase", ("RNN", "LSTM", "GRU")),
    ("rnn", "RNNCellBase", ("RNNCell", "LSTMCell", "GRUCell")),
    ("padding", "_ConstantPadNd", ("ConstantPad2d", "ZeroPad2d")),
])
def test_private_bases_are_the_layers_bases_as_in_pytorch(sub, base, classes):
    cls = getattr(sys.modules[f"tinygrad_nv.nn.modules.{sub}"], base)
    assert all(issubclass(getattr(nn, c), cls) for c in classes)
    torch = pytest.importorskip("torch")
    theirs = getattr(getattr(torch.nn.modules, sub), base)
    assert all(issubclass(getattr(torch.nn, c), theirs) for c in classes)


def test_the_import_statements_programs_write():
    import tinygrad_nv.nn.modules.linear
    assert tinygrad_nv.nn.modules.linear.Linear is nn.Linear
    assert nn.modules.module.Module is nn.Module and nn.modules.Module is nn.Module
    from tinygrad_nv.nn.modules.batchnorm import _BatchNorm
    from tinygrad_nv.nn.modules.conv import _ConvNd
    assert isinstance(nn.BatchNorm1d(2), _BatchNorm) and isinstance(nn.Conv1d(1, 1, 1), _ConvNd)
    with pytest.raises(ImportError):
        from tinygrad_nv.nn.modules.linear import NoSuchLayer  # noqa: F401


def test_out_proj_is_a_non_dynamically_quantizable_linear_as_pytorchs():
    from tinygrad_nv.nn.modules import linear
    mha = nn.MultiheadAttention(8, 2)
    assert type(mha.out_proj) is linear.NonDynamicallyQuantizableLinear
    assert isinstance(mha.out_proj, nn.Linear)
    text = ("MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, "
            "out_features=8, bias=True)\n)")
    assert repr(mha) == text
    torch = pytest.importorskip("torch")
    assert repr(torch.nn.MultiheadAttention(8, 2)) == text


def test_a_custom_loss_subclasses_loss():
    from tinygrad_nv.nn.modules.loss import _Loss, _WeightedLoss

    class Scaled(_Loss):
        def __init__(self, scale, reduction="mean"):
            super().__init__(reduction=reduction)
            self.scale = scale

        def forward(self, x, y):
            d = (x - y).abs() * self.scale
            return d.mean() if self.reduction == "mean" else d.sum()

    loss = Scaled(2.0, reduction="sum")
    assert loss.reduction == "sum" and isinstance(loss, nn.Module) and repr(loss) == "Scaled()"
    assert loss(Tensor([1.0, 2.0]), Tensor([0.0, 0.0])).item() == 6.0
    weighted = type("W", (_WeightedLoss,), {"forward": lambda self, x: x})(Tensor([1.0, 2.0]))
    assert list(weighted.state_dict()) == ["weight"]
    with pytest.raises(ValueError, match="reduction must be one of"):
        Scaled(1.0, reduction="avg")


def test_ntuple_helpers_are_pytorchs():
    assert _single(3) == (3,) and _pair(3) == (3, 3) and _triple(1) == (1, 1, 1)
    assert _quadruple(0) == (0, 0, 0, 0) and _pair([1, 2]) == (1, 2) and _pair((4,)) == (4,)
    assert _ntuple(5, "five")(2) == (2,) * 5 and _ntuple(5, "five").__name__ == "five"
    assert _pair.__name__ == "_pair"
    utils = pytest.importorskip("torch.nn.modules.utils")
    for value in (3, [1, 2], (4,), "ab"):
        assert _pair(value) == utils._pair(value) and _triple(value) == utils._triple(value)


def test_consume_prefix_strips_it_in_place():
    state = {"module.a": 1, "b": 2, "module.c.d": 3}
    consume_prefix_in_state_dict_if_present(state, "module.")
    assert state == {"b": 2, "a": 1, "c.d": 3} and list(state) == ["b", "a", "c.d"]


def test_torch_alias_maps_nn_modules():
    code = """
import sys, tinygrad_nv
sys.modules["torch"] = tinygrad_nv
import torch
import torch.nn.modules.linear
from torch.nn.modules.utils import _pair
from torch.nn.modules.loss import _Loss
from torch.nn.modules.batchnorm import _BatchNorm
safe = [torch.nn.modules.linear.NonDynamicallyQuantizableLinear]
print(torch.nn.modules.linear is sys.modules["tinygrad_nv.nn.modules.linear"],
      _pair(2) == (2, 2), _Loss is tinygrad_nv.nn.modules.loss._Loss,
      issubclass(torch.nn.BatchNorm2d, _BatchNorm), safe[0].__name__)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True"] * 4 + ["NonDynamicallyQuantizableLinear"]
