"""ParameterDict: registration (state_dict keys and order as torch's, tensors made parameters),
the dict methods, repr as torch's, copies, and bad inputs."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

from tinygrad_nv import Tensor, nn
from tinygrad_nv.optim import SGD


class Holder(nn.Module):
    def __init__(self, params):
        super().__init__()
        self.params = params


def test_state_dict_keys_and_order_are_torchs():
    torch = pytest.importorskip("torch")
    for make in (lambda T, P: {"b": T, "a": P}, lambda T, P: OrderedDict(b=T, a=P),
                 lambda T, P: [("b", T), ("a", P)]):
        ours = Holder(nn.ParameterDict(make(Tensor.ones(2), nn.Parameter(Tensor.zeros(3)))))
        theirs = torch.nn.Module()
        theirs.params = torch.nn.ParameterDict(make(torch.ones(2),
                                                    torch.nn.Parameter(torch.zeros(3))))
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours.params) == repr(theirs.params)


def test_tensors_become_trainable_parameters():
    plain, existing = Tensor([1.0, 2.0]), nn.Parameter(Tensor([3.0]))
    params = nn.ParameterDict({"w": plain, "b": existing})
    assert params["b"] is existing and isinstance(params["w"], nn.Parameter)
    assert params["w"].requires_grad and len(list(Holder(params).parameters())) == 2
    loss = (params["w"] * params["b"]).sum()
    loss.backward()
    SGD(params.values(), lr=1.0).step()
    np.testing.assert_allclose(params["w"].numpy(), [-2.0, -1.0])


def test_dict_methods():
    params = nn.ParameterDict()
    params["a"] = Tensor.ones(1)
    params.update({"c": Tensor.ones(2), "b": Tensor.ones(3)})
    assert list(params) == ["a", "b", "c"] and "b" in params and len(params) == 3
    assert params.get("z") is None and params.get("a") is params["a"]
    assert [v.shape for v in params.values()] == [(1,), (3,), (2,)]
    assert params.pop("b").shape == (3,) and list(params.keys()) == ["a", "c"]
    assert params.popitem()[0] == "c" and list(params) == ["a"]
    default = Tensor.zeros(4)
    assert params.setdefault("d", default).shape == (4,) and params.setdefault("a", default) \
        is params["a"]
    merged = params | {"e": Tensor.ones(1)}
    assert list(merged) == ["a", "d", "e"] and list(params) == ["a", "d"]
    assert merged["a"] is params["a"]
    params |= [("f", Tensor.ones(1))]
    assert list(params) == ["a", "d", "f"]
    assert list(params.fromkeys(["x", "y"], Tensor.ones(1))) == ["x", "y"]
    del params["a"]
    params.clear()
    assert len(params) == 0 and list(Holder(params).state_dict()) == []


def test_deepcopy_and_load_state_dict():
    holder = Holder(nn.ParameterDict({"w": Tensor([1.0, 2.0])}))
    twin = copy.deepcopy(holder)
    assert twin.params["w"] is not holder.params["w"]
    twin.params["w"].data = Tensor([5.0, 6.0])
    holder.load_state_dict(twin.state_dict())
    assert holder.params["w"].tolist() == [5.0, 6.0]


@pytest.mark.parametrize("call,exc,match", [
    (lambda p: p["missing"], KeyError, r"ParameterDict: no parameter named 'missing'; keys: "
                                        r"\['a'\]"),
    (lambda p: p.__setitem__("x", [1.0]), TypeError, "ParameterDict: 'x' must be a Tensor, "
                                                      "got list"),
    (lambda p: p.update(3), TypeError, "ParameterDict.update should be called with a mapping"),
    (lambda p: p.update([("x", Tensor.ones(1), 3)]), TypeError, r"element #0 must be a \(key"),
    (lambda p: nn.ParameterDict().popitem(), KeyError, "ParameterDict is empty"),
])
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call(nn.ParameterDict({"a": Tensor.ones(1)}))
