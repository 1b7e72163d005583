"""ModuleList, ModuleDict, ParameterList: registration (parameters found, PyTorch's
state_dict keys), list/dict behaviour, reprs as PyTorch prints them, and the warning for a
plain list or dict of modules."""

import warnings

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor


class Tower(nn.Module):
    def __init__(self, depth=3):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(depth)])
        self.heads = nn.ModuleDict({"score": nn.Linear(2, 1), "act": nn.Tanh()})
        self.scales = nn.ParameterList([Tensor.ones(2), Tensor(np.full((2, 2), 2.0))])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x) * self.scales[0]  # scales[1] stays unused
        return self.heads["score"](self.heads["act"](x))


def test_parameters_found_and_state_dict_keys():
    model = Tower()
    assert list(model.state_dict()) == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "layers.2.weight", "layers.2.bias", "heads.score.weight", "heads.score.bias",
        "scales.0", "scales.1"]
    assert len(list(model.parameters())) == 10
    assert all(p.requires_grad and p.is_leaf for p in model.scales)


def test_containers_train_with_an_optimizer():
    Tensor.manual_seed(0)
    model = Tower()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(Tensor(np.ones((4, 2), dtype=np.float32))).sum().backward()
    opt.step()
    after = model.state_dict()
    changed = [k for k in before if not np.array_equal(before[k], after[k].numpy())]
    assert changed == [k for k in before if k != "scales.1"]
    assert model.scales[1].grad is None


def test_module_list_behaves_as_a_list():
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity()
    layers = nn.ModuleList([a, b])
    assert layers.append(c) is layers and list(layers) == [a, b, c] and len(layers) == 3
    assert layers[-1] is c and layers[0] is a
    assert isinstance(layers[1:], nn.ModuleList) and list(layers[::-1]) == [c, b, a]
    layers.insert(1, d)
    assert list(layers) == [a, d, b, c] and list(layers._modules) == ["0", "1", "2", "3"]
    layers[0] = c
    assert layers[0] is c
    del layers[1]
    assert list(layers) == [c, b, c] and list(layers._modules) == ["0", "1", "2"]
    assert layers.pop(0) is c and list(layers) == [b, c]
    layers += [a]
    layers.extend([d])
    assert list(layers) == [b, c, a, d] and list(layers + nn.ModuleList([a]))[-1] is a
    del layers[1:3]
    assert list(layers) == [b, d] and list(dict(layers.named_children())) == ["0", "1"]
    with pytest.raises(IndexError, match="ModuleList: index 2 is out of range for 2 items"):
        layers[2]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        layers.extend(nn.ReLU())
    with pytest.raises(TypeError, match=r"add_module: int is not a Module subclass "
                                        r"\(registering '2'\)"):
        layers.append(3)
    with pytest.raises(NotImplementedError, match="ModuleList must define forward"):
        layers(Tensor([1.0]))


def test_module_dict_behaves_as_a_dict():
    relu, tanh = nn.ReLU(), nn.Tanh()
    heads = nn.ModuleDict([("b", relu), ("a", tanh)])
    assert list(heads) == ["b", "a"] and list(heads.keys()) == ["b", "a"]
    assert list(heads.values()) == [relu, tanh] and dict(heads.items()) == {"b": relu, "a": tanh}
    assert "a" in heads and "c" not in heads and len(heads) == 2
    heads["c"] = nn.Identity()
    heads.update({"a": relu})
    assert heads["a"] is relu and list(heads) == ["b", "a", "c"]
    assert heads.pop("b") is relu and list(heads) == ["a", "c"]
    del heads["c"]
    assert list(heads) == ["a"]
    heads.clear()
    assert len(heads) == 0
    with pytest.raises(KeyError, match="ModuleDict: no module named 'x'"):
        heads["x"]
    with pytest.raises(KeyError, match=r'name can.*t contain "\."'):
        heads["a.b"] = relu
    with pytest.raises(TypeError, match="ModuleDict.update: expected a mapping or"):
        heads.update([relu])


def test_parameter_list():
    existing = Tensor(np.ones(3), requires_grad=True)
    plain = Tensor(np.zeros(2))
    params = nn.ParameterList([existing, plain])
    assert params[0] is existing  # a parameter already: kept
    assert params[1] is not plain and params[1].requires_grad and params[1].is_leaf
    params[1]._data[...] = 5.0  # made a parameter that shares the tensor's memory
    np.testing.assert_array_equal(plain.numpy(), 5.0)
    params.append(Tensor.ones(1))
    assert len(params) == 3 and isinstance(params[1:], nn.ParameterList)
    assert list(dict(params.named_parameters())) == ["0", "1", "2"]
    with pytest.raises(TypeError, match="ParameterList: item 3 must be a Tensor, got list"):
        params.append([1.0])


def test_reprs_as_pytorch_prints_them():
    model = Tower()
    assert repr(model) == """Tower(
  (layers): ModuleList(
    (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)
  )
  (heads): ModuleDict(
    (score): Linear(in_features=2, out_features=1, bias=True)
    (act): Tanh()
  )
  (scales): ParameterList(
      (0): Parameter containing: [float32 of size 2]
      (1): Parameter containing: [float64 of size 2x2]
  )
)"""
    mixed = nn.ModuleList([nn.ReLU(), nn.Linear(1, 2), nn.Linear(1, 2), nn.ReLU()])
    assert repr(mixed) == ("ModuleList(\n  (0): ReLU()\n  (1-2): 2 x Linear(in_features=1, "
                           "out_features=2, bias=True)\n  (3): ReLU()\n)")
    assert repr(nn.ModuleList()) == "ModuleList()" and repr(nn.ModuleDict()) == "ModuleDict()"


@pytest.mark.parametrize("value,kind", [
    ([nn.Linear(1, 1)], "list"), ((nn.ReLU(), 3), "tuple"), ({"a": nn.ReLU()}, "dict"),
    ([Tensor(np.ones(1), requires_grad=True)], "list")])
def test_plain_containers_of_modules_warn(value, kind):
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = value

    with pytest.warns(UserWarning, match=rf"Holder\.blocks: a plain {kind} of Modules or "
                                         r"parameters is not registered.*nn\.ModuleList, "
                                         r"nn\.ModuleDict or nn\.ParameterList"):
        holder = Holder()
    assert list(holder.parameters()) == []


def test_plain_containers_of_other_values_do_not_warn():
    module = nn.Module()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module.sizes = [1, 2, 3]
        module.names = {"a": "b"}
        module.data = [Tensor(np.ones(1))]  # tensors that are not parameters
