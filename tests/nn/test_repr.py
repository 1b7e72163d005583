"""print(model) as PyTorch prints it: layers' extra_repr with PyTorch's fields, tuples and
defaults left out (the tutorials print their models)."""

import pytest

from tinygrad_nv import nn

CASES = [
    ("Conv2d", (1, 6, 5), {}, "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"),
    ("Conv2d", (3, 8, 3), dict(stride=2, padding=1, bias=False, dilation=2),
     "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
     "bias=False)"),
    ("Conv2d", (4, 8, 3), dict(groups=2, padding_mode="reflect", padding=1),
     "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, "
     "padding_mode=reflect)"),
    ("Conv1d", (3, 8, 3), dict(padding="same"),
     "Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding=same)"),
    ("ConvTranspose2d", (8, 4, 3, 2, 1, 1), {},
     "ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
     "output_padding=(1, 1))"),
    ("MaxPool2d", (2,), {},
     "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"),
    ("AvgPool2d", (2,), {}, "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    ("LayerNorm", (4,), {}, "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"),
    ("LayerNorm", ((4, 5),), dict(elementwise_affine=False),
     "LayerNorm((4, 5), eps=1e-05, elementwise_affine=False, bias=False)"),
    ("BatchNorm1d", (4,), {}, "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
     "track_running_stats=True)"),
    ("BatchNorm2d", (4,), dict(momentum=None, affine=False, track_running_stats=False),
     "BatchNorm2d(4, eps=1e-05, momentum=None, affine=False, bias=False, "
     "track_running_stats=False)"),
    ("GroupNorm", (2, 4), {}, "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"),
    ("InstanceNorm2d", (4,), dict(affine=True), "InstanceNorm2d(4, eps=1e-05, momentum=0.1, "
     "affine=True, bias=True, track_running_stats=False)"),
    ("Dropout", (0.25,), {}, "Dropout(p=0.25, inplace=False)"),
    ("ReLU", (), {}, "ReLU()"),
    ("ReLU", (True,), {}, "ReLU(inplace=True)"),
    ("LeakyReLU", (0.2,), dict(inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    ("GELU", (), dict(approximate="tanh"), "GELU(approximate='tanh')"),
    ("Flatten", (), {}, "Flatten(start_dim=1, end_dim=-1)"),
    ("MSELoss", (), {}, "MSELoss()"),
    ("CrossEntropyLoss", (), dict(label_smoothing=0.1), "CrossEntropyLoss()"),
    ("RNN", (4, 3), dict(nonlinearity="relu", num_layers=2), "RNN(4, 3, num_layers=2)"),
    ("RNNCell", (4, 3), dict(nonlinearity="relu"), "RNNCell(4, 3, nonlinearity=relu)"),
    ("LSTM", (4, 3), dict(batch_first=True, bidirectional=True),
     "LSTM(4, 3, batch_first=True, bidirectional=True)"),
]


@pytest.mark.parametrize("name,args,kwargs,text", CASES, ids=[c[0] for c in CASES])
def test_layer_repr_is_pytorchs(name, args, kwargs, text):
    assert repr(getattr(nn, name)(*args, **kwargs)) == text


@pytest.mark.parametrize("name,args,kwargs,text", CASES, ids=[c[0] for c in CASES])
def test_layer_repr_matches_torch(name, args, kwargs, text):
    torch = pytest.importorskip("torch")
    assert repr(getattr(torch.nn, name)(*args, **kwargs)) == text


def test_a_models_repr_nests_as_pytorchs():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4, 2))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), bias=False)\n"
        "  (1): ReLU()\n"
        "  (2): Flatten(start_dim=1, end_dim=-1)\n"
        "  (3): Linear(in_features=4, out_features=2, bias=True)\n"
        ")")
