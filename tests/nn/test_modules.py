"""Module (registration, traversal, modes, devices, state_dict) and the layers: forward
against NumPy, PyTorch's parameter shapes, keys and defaults, train vs eval behaviour."""

import math

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import gradcheck


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.scale = Tensor(np.ones(4), requires_grad=True)
        self.register_buffer("steps", Tensor(0))
        self.note = "plain attribute"

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


def test_registration_and_traversal():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "norm.weight", "norm.bias"]
    assert [n for n, _ in block.named_buffers()] == [
        "steps", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert [n for n, _ in block.named_children()] == ["fc", "norm"]
    assert len(list(block.modules())) == 3 and block.note == "plain attribute"
    assert list(block.parameters(recurse=False)) == [block.scale]


def test_shared_parameters_and_modules_appear_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3  # Sequential, Linear, ReLU


def test_reassignment_moves_between_registries():
    block = Block()
    block.scale = None
    assert "scale" not in dict(block.named_parameters())
    block.fc = Tensor(np.ones(2), requires_grad=True)
    assert "fc" not in dict(block.named_children()) and "fc" in dict(block.named_parameters())
    block.steps = Tensor(5)
    assert dict(block.named_buffers())["steps"].item() == 5
    del block.fc
    assert not hasattr(block, "fc")


def test_non_leaf_tensors_are_not_parameters():
    block = Block()
    block.derived = block.scale * 2
    assert "derived" not in dict(block.named_parameters())


def test_train_eval_propagates():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad():
    model = nn.Linear(2, 3)
    model(Tensor(np.ones((1, 2)))).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_dtype_keeps_parameter_objects_and_integer_buffers():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    model.double()
    assert model[0].weight is weight and weight.dtype == dtypes.float64
    assert model[1].running_var.dtype == dtypes.float64
    assert model[1].num_batches_tracked.dtype == dtypes.int64
    model.to("cpu", dtypes.float32)
    assert weight.dtype == dtypes.float32 and str(weight.device) == "cpu"
    assert model.cpu() is model and str(weight.device) == "cpu"


def test_state_dict_keys_follow_pytorch():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2, 1), nn.LayerNorm(1), nn.Embedding(3, 2))
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "4.bias", "5.weight", "5.bias", "6.weight"]


def test_state_dict_round_trip():
    a, b = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)), \
        nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    a(Tensor(np.random.default_rng(0).standard_normal((4, 3)))).sum()  # moves running stats
    weight = b[0].weight
    result = b.load_state_dict({k: v.numpy() for k, v in a.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is weight  # loaded in place
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)


def test_load_state_dict_strict_errors_list_every_problem():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    state = model.state_dict()
    state.pop("1.bias")
    state["extra"] = Tensor([1.0])
    state["0.weight"] = Tensor(np.ones((3, 3)))
    message = ('Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: '
               '"1.bias". \n\tUnexpected key(s) in state_dict: "extra". \n\tsize mismatch '
               'for 0.weight: copying a param with shape (3, 3) from checkpoint, the shape in '
               'current model is (2, 3).')
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    assert str(info.value) == message
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict(state, strict=False)  # shapes are checked even when not strict
    state["0.weight"] = Tensor(np.ones((2, 3)))
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["1.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].weight.numpy(), 1.0)
    assert repr(model.load_state_dict(model.state_dict())) == "<All keys matched successfully>"


def test_buffers_persistent_or_not():
    module = nn.Module()
    module.register_buffer("saved", Tensor(np.ones(2)))
    module.register_buffer("scratch", Tensor(np.zeros(2)), persistent=False)
    assert [n for n, _ in module.named_buffers()] == ["saved", "scratch"]
    assert list(module.state_dict()) == ["saved"]
    module.double()
    assert module.scratch.dtype == dtypes.float64  # moved and converted all the same
    module.register_buffer("scratch", Tensor(np.zeros(2)))  # registering again: persistent
    assert list(module.state_dict()) == ["saved", "scratch"]
    module.register_buffer("scratch", None, persistent=False)
    module.scratch = Tensor(np.ones(1))  # assigning keeps it a non-persistent buffer
    assert list(module.state_dict()) == ["saved"] and len(list(module.buffers())) == 2
    with pytest.raises(KeyError, match="attribute 'note' already exists"):
        module.note = 1
        module.register_buffer("note", Tensor(1.0))
    with pytest.raises(KeyError, match=r'name can.*t contain "\."'):
        module.register_buffer("a.b", Tensor(1.0))
    with pytest.raises(TypeError, match="name should be a string. Got int"):
        module.register_buffer(1, Tensor(1.0))


def test_shared_module_keys_traversal_order_and_apply():
    shared = nn.Linear(2, 2)
    inner = nn.Sequential(nn.Tanh(), shared)
    model = nn.Sequential(shared, inner)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.1.weight", "1.1.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1", "1.0"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == [
        "", "0", "1", "1.0", "1.1"]
    assert [n for n, _ in model.named_parameters(prefix="net")] == ["net.0.weight",
                                                                   "net.0.bias"]
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "1.1.weight", "1.1.bias"]
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "Tanh", "Linear", "Sequential", "Sequential"]  # children first


def test_requires_grad_freezes_parameters():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    assert model[0].requires_grad_(False) is model[0]
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    assert len(list(model.parameters())) == 4  # still registered parameters
    model(Tensor(np.ones((3, 2), dtype=np.float32))).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="mode must be a bool"):
        model.train("no")


def test_nested_repr_with_extra_repr():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            self.add_module("skip", None)

        def extra_repr(self):
            return "factor=2"

    assert repr(Scaled()) == """Scaled(
  factor=2
  (body): Sequential(
    (0): Linear(in_features=2, out_features=3, bias=True)
    (1): ReLU()
  )
  (skip): None
)"""
    assert repr(nn.Module()) == "Module()"


def test_linear_and_conv_defaults():
    Tensor.manual_seed(0)
    lin = nn.Linear(300, 200)
    assert lin.weight.shape == (200, 300) and lin.bias.shape == (200,)
    bound = 1 / math.sqrt(300)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    for p in (lin.weight, lin.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.9 * bound
    assert nn.Linear(3, 2, bias=False).bias is None
    conv = nn.Conv2d(4, 6, (3, 2), groups=2)
    assert conv.weight.shape == (6, 2, 3, 2)
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(2 * 3 * 2)


def test_layers_forward(device):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)), device=device)
    conv = nn.Conv2d(3, 4, 3, padding=1).double().to(device)
    w, b = conv.weight.numpy(), conv.bias.numpy()
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    expected = np.einsum("nchwij,ocij->nohw", windows, w) + b.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(conv(x).numpy(), expected, atol=1e-12)
    pooled = nn.MaxPool2d(2)(x).numpy()
    np.testing.assert_array_equal(pooled, x.numpy().reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5)))
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).numpy(),
                               x.numpy().reshape(2, 3, 3, 2, 3, 2).mean(axis=(3, 5)))
    assert nn.Flatten()(x).shape == (2, 108) and nn.Flatten(0, 1)(x).shape == (6, 6, 6)
    np.testing.assert_array_equal(nn.Identity()(x).numpy(), x.numpy())
    for layer, method in ((nn.ReLU(), "relu"), (nn.Sigmoid(), "sigmoid"), (nn.Tanh(), "tanh"),
                          (nn.SiLU(), "silu"), (nn.GELU(), "gelu")):
        np.testing.assert_array_equal(layer(x).numpy(), getattr(x, method)().numpy())
    np.testing.assert_array_equal(nn.GELU("tanh")(x).numpy(), x.gelu("tanh").numpy())
    np.testing.assert_array_equal(nn.LeakyReLU(0.2)(x).numpy(), x.leaky_relu(0.2).numpy())
    np.testing.assert_array_equal(nn.Softmax(1)(x).numpy(), x.softmax(1).numpy())
    np.testing.assert_array_equal(nn.LogSoftmax(1)(x).numpy(), x.log_softmax(1).numpy())


def test_batch_norm_train_vs_eval(device):
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3).double().to(device)
    batches = [rng.standard_normal((4, 3, 2, 2)) * 2 + 1 for _ in range(3)]
    mean, var = np.zeros(3), np.ones(3)
    for a in batches:
        out = bn(Tensor(a, device=device)).numpy()
        m, v = a.mean(axis=(0, 2, 3)), a.var(axis=(0, 2, 3))
        np.testing.assert_allclose(out, (a - m.reshape(1, 3, 1, 1))
                                   / np.sqrt(v.reshape(1, 3, 1, 1) + 1e-5), atol=1e-12)
        mean, var = 0.9 * mean + 0.1 * m, 0.9 * var + 0.1 * v * 16 / 15
    np.testing.assert_allclose(bn.running_mean.numpy(), mean)
    np.testing.assert_allclose(bn.running_var.numpy(), var)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    a = batches[0]
    np.testing.assert_allclose(bn(Tensor(a, device=device)).numpy(),
                               (a - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1)
                                                                        + 1e-5), atol=1e-12)
    assert bn.num_batches_tracked.item() == 3


def test_batch_norm_cumulative_average_and_no_running_stats():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [rng.standard_normal((5, 2)) for _ in range(3)]
    for a in batches:
        bn(Tensor(a))
    np.testing.assert_allclose(bn.running_mean.numpy(),
                               np.mean([a.mean(axis=0) for a in batches], axis=0))
    plain = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    assert list(plain.state_dict()) == []
    a = batches[0]
    np.testing.assert_allclose(plain(Tensor(a)).numpy(),
                               (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5), rtol=1e-5)


def test_dropout_train_vs_eval():
    drop = nn.Dropout(0.5)
    x = Tensor(np.ones(1000))
    assert 0.4 < (drop(x).numpy() == 0).mean() < 0.6
    drop.eval()
    assert drop(x) is x


def test_sequential_container():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers and model[-1] is layers[2]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head.state_dict()) == ["2.weight", "2.bias"]
    model.append(nn.Sigmoid())
    assert len(model) == 4
    x = Tensor(np.ones((5, 2)))
    np.testing.assert_array_equal(model(x).numpy(),
                                  layers[2](layers[0](x).relu()).sigmoid().numpy())
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in repr(model)


def test_embedding_layer():
    emb = nn.Embedding(10, 4)
    out = emb(Tensor(np.array([[1, 2], [3, 9]])))
    assert out.shape == (2, 2, 4) and emb.weight.requires_grad


def test_small_model_gradients():
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.BatchNorm2d(2), nn.Tanh(), nn.Flatten(),
                          nn.Linear(8, 2), nn.LayerNorm(2)).double()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 3, 3)))

    def fn(x, conv_weight, linear_weight):
        model[0].weight, model[4].weight = conv_weight, linear_weight  # leaves: parameters
        return model(x)

    gradcheck(fn, [x, model[0].weight, model[4].weight])


BAD = [
    (lambda: nn.Linear(0, 2), ValueError, "Linear: in_features must be a positive int"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "groups=2 must divide in_channels=3"),
    (lambda: nn.Dropout(-0.1), ValueError, "Dropout: dropout probability"),
    (lambda: nn.BatchNorm2d(3)(Tensor(np.ones((2, 3)))), ValueError,
     r"BatchNorm2d: expected a 4-D input, got shape \(2, 3\)"),
    (lambda: nn.BatchNorm1d(3)(Tensor(np.ones((2, 3, 1, 1)))), ValueError, "2-D or 3-D"),
    (lambda: nn.Sequential(nn.ReLU())[3], IndexError, "index 3 is out of range for 1"),
    (lambda: nn.Sequential(nn.ReLU(), "relu"), TypeError, "Sequential: 1 is a str"),
    (lambda: nn.Module()(1), NotImplementedError, "must define forward"),
    (lambda: nn.Module().register_buffer("b", [1.0]), TypeError, "must be a Tensor or None"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_forgetting_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Broken()


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.SiLU(),
                                        nn.GELU(), nn.GELU(approximate="tanh")])
def test_sequential_fuses_linear_and_activation(activation, device):
    Tensor.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 4), activation, nn.Linear(4, 2)).to(device)
    x = Tensor(np.random.default_rng(0).standard_normal((3, 5)), device=device).float()
    fused = model(x)
    unfused = model[2](model[1](model[0](x)))
    np.testing.assert_allclose(fused.numpy(), unfused.numpy(), rtol=1e-5, atol=1e-6)
    assert type(fused._ctx.parents[0]._ctx).__name__ in ("LinearAct", "LinearRelu")
    fused.sum().backward()
    fused_grads = [p.grad.numpy() for p in model.parameters()]
    model.zero_grad()
    unfused.sum().backward()
    for got, want in zip(fused_grads, (p.grad.numpy() for p in model.parameters())):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_module_defined_where_there_is_no_module_name():
    """exec() of a class body in a namespace without __name__ (notebooks' and doc runners'
    way) leaves forward.__module__ None: the subclass still works."""
    namespace = {"nn": nn}
    exec("class Twice(nn.Module):\n    def forward(self, x):\n        return x * 2\n", namespace)
    assert namespace["Twice"]()(Tensor([1.0, 2.0])).tolist() == [2.0, 4.0]
