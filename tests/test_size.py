"""tinygrad_nv.Size: PyTorch's torch.Size, what shape and size() return."""

import copy
import pickle

import numpy as np
import pytest

import tinygrad_nv
from tinygrad_nv import Size, Tensor


def test_shape_and_size_are_sizes(device):
    x = Tensor.zeros(2, 3, device=device)
    for s in (x.shape, x.size()):
        assert type(s) is Size and s == (2, 3) and (2, 3) == s and s == Size([2, 3])
    assert type(x.size(1)) is int and x.size(1) == 3 and x.size(-2) == 2
    assert Tensor(1.0, device=device).shape == () and Tensor(1.0).shape.numel() == 1


def test_size_behaves_as_torch_size():
    s = Size([2, 3])
    assert isinstance(s, tuple) and hash(s) == hash((2, 3)) and list(s) == [2, 3]
    assert s.numel() == 6 and Size().numel() == 1 and Size([4, 0]).numel() == 0
    assert type(s[1:]) is Size and s[1:] == (3,) and type(s[0]) is int and s[::-1] == (3, 2)
    assert type(s + (4,)) is Size and s + (4,) == (2, 3, 4)
    assert type((1,) + s) is Size and (1,) + s == (1, 2, 3)
    assert type(s * 2) is Size and s * 2 == (2, 3, 2, 3) and type(2 * s) is Size
    assert repr(s) == str(s) == f"{s}" == "tinygrad_nv.Size([2, 3])"
    assert repr(Size()) == "tinygrad_nv.Size([])"
    assert Size([np.int64(2), Tensor(3)]) == (2, 3) and Size((True,)) == (1,)
    assert pickle.loads(pickle.dumps(s)) == s and type(copy.deepcopy(s)) is Size


@pytest.mark.parametrize("bad", [[2.0], ["a"], [None]])
def test_size_refuses_non_integers(bad):
    with pytest.raises(TypeError, match="Size\\(\\) takes an iterable of 'int' \\(item 0"):
        Size(bad)


def test_size_accepted_where_shapes_are(device):
    s = Size([2, 3])
    x = Tensor.arange(6, device=device).float()
    assert x.reshape(s).shape == s and x.view(s).shape == s and x.reshape(s).view(-1).shape == (6,)
    assert tinygrad_nv.zeros(s, device=device).shape == s
    assert tinygrad_nv.ones(s, device=device).shape == s and Tensor.rand(s).shape == s
    assert Tensor.ones(1, 3, device=device).expand(s).shape == s
    assert x.new_zeros(s).shape == s and x.new_ones(s).shape == s and x.new_empty(s).shape == s
    assert tinygrad_nv.full(s, 2.0, device=device).shape == s
    assert Tensor.zeros(3, 2).reshape(x.reshape(s).shape).shape == s


def test_size_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = Size([2, 3]), torch.Size([2, 3])
    assert repr(ours).replace("tinygrad_nv.", "torch.") == repr(theirs)
    for result, expected in ((ours[1:], theirs[1:]), (ours + (4,), theirs + (4,)),
                             ((1,) + ours, (1,) + theirs), (ours * 2, theirs * 2)):
        assert result == expected and type(expected) is torch.Size and type(result) is Size
    assert ours.numel() == theirs.numel() and ours == theirs
    assert repr(Tensor.zeros(4, 1).shape).replace("tinygrad_nv", "torch") == \
        repr(torch.zeros(4, 1).shape)
