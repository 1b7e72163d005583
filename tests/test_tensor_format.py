"""Tensors print as PyTorch prints them (tinygrad_nv/tensor_format.py)."""

import re

import numpy as np
import pytest

import tinygrad_nv
from tinygrad_nv import Tensor

# (what to build, as Python source run with `lib` bound to tinygrad_nv or torch)
CASES = [
    "lib.ones(2, 3)",
    "lib.tensor(6.)",
    "lib.tensor(-0.5)",
    "lib.tensor([1.5, -2.25, 3.0])",
    "lib.tensor([1e-5, 1.0, 1000.0])",
    "lib.tensor([1e9, 2.0])",
    "lib.tensor([0.1, 12345.678])",
    "lib.tensor([1.0, 2.0, 100.0])",
    "lib.tensor([1.0, float('inf'), float('nan'), -float('inf')])",
    "lib.tensor([0.5, float('nan')])",
    "lib.tensor([0.0, -0.0])",
    "lib.tensor([[1, -20], [300, 4]])",
    "lib.tensor([True, False])",
    "lib.tensor([1, 2], dtype=lib.int32)",
    "lib.tensor([1, 2], dtype=lib.uint8)",
    "lib.tensor([1.5, 2.0], dtype=lib.float64)",
    "lib.tensor([1.5, 70000.0], dtype=lib.float16)",
    "lib.tensor([])",
    "lib.zeros(0, 3)",
    "lib.tensor([], dtype=lib.int64)",
    "lib.zeros(2, 0, dtype=lib.float64)",
    "lib.arange(2000).float()",
    "lib.arange(1200)",
    "lib.arange(3000.0).reshape(30, 100) / 7",
    "lib.arange(24.0).reshape(2, 3, 4)",
    "lib.arange(5000.0).reshape(10, 10, 50)",
    "lib.arange(30.0) / 3",
    "lib.tensor([1.0, 2.0], requires_grad=True)",
    "lib.tensor([1.0, 2.0], requires_grad=True) * 2",
    "lib.tensor([1.0, 2.0], requires_grad=True).sum()",
    "lib.tensor([1.0, 2.0], requires_grad=True) + 1",
    "lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True) * 3",
    "lib.arange(12.0).reshape(3, 4) * 1e-3",
]


def build(source: str, lib):
    return eval(source, {"lib": lib})  # noqa: S307  (the table's own expressions)


@pytest.fixture
def on_cpu():
    """Tensors made without a device land on the CPU (where torch's land), also on emu runs."""
    before, tinygrad_nv.Device.DEFAULT = tinygrad_nv.Device.DEFAULT, "cpu"
    yield
    tinygrad_nv.Device.DEFAULT = before


@pytest.mark.parametrize("source", CASES)
def test_repr_equals_torch(source, on_cpu):
    torch = pytest.importorskip("torch")
    ours, theirs = build(source, tinygrad_nv), build(source, torch)
    expected = repr(theirs).replace("torch.", "tinygrad_nv.")
    assert repr(ours) == expected and str(ours) == str(theirs).replace("torch.", "tinygrad_nv.")


@pytest.mark.parametrize("options", [dict(precision=2), dict(threshold=5), dict(edgeitems=1,
                         threshold=5), dict(linewidth=30), dict(sci_mode=True),
                         dict(sci_mode=False), dict(profile="short"), dict(profile="full")])
def test_print_options_as_torch(options, on_cpu):
    torch = pytest.importorskip("torch")
    try:
        tinygrad_nv.set_printoptions(**options)
        torch.set_printoptions(**options)
        for source in ("lib.arange(10.0) / 3", "lib.arange(1200)", "lib.tensor([1e-5, 1.0])",
                       "lib.arange(40.0).reshape(5, 8) * 1.5"):
            expected = repr(build(source, torch)).replace("torch.", "tinygrad_nv.")
            assert repr(build(source, tinygrad_nv)) == expected, source
    finally:
        tinygrad_nv.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_hand_derived_forms(device):
    """PyTorch's rules without torch: rows aligned under the first `[`, integer-valued floats
    with a point, 4 digits, scientific notation past 1000x, suffixes in order."""
    suffix = "" if device == "cpu" else f", device='{tinygrad_nv.device(device)}'"
    assert repr(Tensor.ones(2, 3, device=device)) == \
        "tensor([[1., 1., 1.],\n        [1., 1., 1.]]" + suffix + ")"
    assert repr(Tensor(6.0, device=device)) == "tensor(6." + suffix + ")"
    assert repr(Tensor([1.5, -2.25], device=device)) == "tensor([ 1.5000, -2.2500]" + suffix + ")"
    assert repr(Tensor([1e-5, 1.0], device=device)) == \
        "tensor([1.0000e-05, 1.0000e+00]" + suffix + ")"
    assert repr(Tensor([True, False], device=device)) == "tensor([ True, False]" + suffix + ")"
    assert repr(Tensor([], device=device)) == "tensor([]" + suffix + ")"
    assert repr(Tensor.zeros(0, 3, device=device)) == "tensor([]" + suffix + ", size=(0, 3))"
    assert repr(Tensor([1, 2], dtype="int32", device=device)) == \
        "tensor([1, 2]" + suffix + ", dtype=tinygrad_nv.int32)"
    x = Tensor([1.0, 2.0], dtype="float64", device=device, requires_grad=True)
    assert repr(x) == "tensor([1., 2.]" + suffix + ", dtype=tinygrad_nv.float64, " \
        "requires_grad=True)"
    assert repr(x * 2).endswith("grad_fn=<MulBackward0>)")  # (wrapped past 80 columns)
    summary = repr(Tensor.arange(1001, device=device))
    assert summary.startswith("tensor([   0,    1,    2,  ...,  998,  999, 1000]")


def test_graph_nodes_print_as_torch_nodes(on_cpu):
    y = Tensor([1.0], requires_grad=True) * 2
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr((y + 1).grad_fn))


def test_custom_function_node_as_torch(on_cpu):
    class Double(tinygrad_nv.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Double.apply(Tensor([1.0], requires_grad=True))
    assert repr(y) == "tensor([2.], grad_fn=<DoubleBackward>)"  # PyTorch's form for these


def test_parameter_and_bfloat16_print(on_cpu):
    p = tinygrad_nv.nn.Parameter(Tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    pytest.importorskip("ml_dtypes")
    assert repr(Tensor([1.5], dtype="bfloat16")) == "tensor([1.5000], dtype=tinygrad_nv.bfloat16)"


def test_set_printoptions_round_trip(on_cpu):
    before = tinygrad_nv.get_printoptions()
    with tinygrad_nv.printoptions(precision=1):
        assert repr(Tensor([1.25])) == "tensor([1.2])"  # round half to even, as format()
    assert tinygrad_nv.get_printoptions() == before
    with pytest.raises(ValueError, match="profile must be one of"):
        tinygrad_nv.set_printoptions(profile="long")
    assert np.isclose(Tensor([1.0 / 3]).item(), 1 / 3)
