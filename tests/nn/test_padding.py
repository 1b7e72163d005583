"""Padding layers (Constant/Zero/Reflection/Replication/Circular, 1-3 axes) against np.pad,
gradcheck and gradgradcheck, reprs, errors; PyTorch where installed."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor

from ..helpers import check_op

NP_MODES = {"Constant": "constant", "Zero": "constant", "Reflection": "reflect",
            "Replication": "edge", "Circular": "wrap"}


def make(module, kind, dims, padding):
    layer = getattr(module, f"{kind}Pad{dims}d")
    return layer(padding, 2.5) if kind == "Constant" else layer(padding)


@pytest.mark.parametrize("kind", sorted(NP_MODES))
@pytest.mark.parametrize("dims,padding", [(1, (1, 2)), (2, (1, 0, 2, 1)), (2, 1),
                                          (3, (1, 1, 0, 1, 1, 0))])
def test_padding_layers(kind, dims, padding, device):
    x = Tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 4, 3)[-dims - 2:]),
               device=device)
    flat = (padding,) * 2 * dims if isinstance(padding, int) else padding
    pairs = [(0, 0)] * 2 + [tuple(flat[2 * i:2 * i + 2]) for i in reversed(range(dims))]
    kwargs = {"constant_values": 2.5 if kind == "Constant" else 0.0} \
        if NP_MODES[kind] == "constant" else {}
    check_op(make(nn, kind, dims, padding),
             lambda a: np.pad(a, pairs, mode=NP_MODES[kind], **kwargs), x)


def test_reprs_and_errors():
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad2d((1, 2, 3, 4), 0.5)) == \
        "ConstantPad2d(padding=(1, 2, 3, 4), value=0.5)"
    assert repr(nn.ReflectionPad2d(2)) == "ReflectionPad2d((2, 2, 2, 2))"
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be an int or 4 ints"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match=r"expected a 3-D or 4-D input .*\(3, 4\)"):
        nn.ReflectionPad2d(1)(Tensor.ones(3, 4))
    with pytest.raises(ValueError, match="reflect padding must be less than the input"):
        nn.ReflectionPad1d(3)(Tensor.ones(1, 2, 3))
    assert nn.ZeroPad2d((1, 1, 0, 0))(Tensor.ones(2, 3)).shape == (2, 5)  # constant: any input


@pytest.mark.parametrize("kind", sorted(NP_MODES))
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_against_torch(kind, dims):
    torch = pytest.importorskip("torch")
    from .torch_reference import compare_with_torch
    padding = (1, 2, 0, 1, 2, 0)[:2 * dims]
    shape = (2, 2, 4, 5, 6)[-dims - 2:]
    ours, theirs = make(nn, kind, dims, padding), make(torch.nn, kind, dims, padding)
    compare_with_torch(ours, theirs, np.random.default_rng(0).standard_normal(shape))
    assert repr(ours) == repr(theirs)
