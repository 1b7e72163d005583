"""nn.Parameter as a class and the Module basics of PyTorch: registration, lookup by dotted
name, dtype and device conversions that keep the parameter objects; errors as PyTorch's."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from tests.nn import zoo
from tinygrad_nv import Tensor, dtypes, no_grad


# ---------------------------------------------------------------------- Parameter
def test_parameter_is_a_tensor_subclass_sharing_storage():
    t = Tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, nn.Parameter) and isinstance(p, Tensor) and type(p) is nn.Parameter
    assert p.requires_grad and p.is_leaf and not t.requires_grad
    with no_grad():
        t.add_(1)  # Parameter(t) shares t's memory, as in PyTorch
    assert p.tolist() == [2.0, 3.0]
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,) and nn.Parameter().requires_grad


def test_ops_on_a_parameter_give_tensors_and_gradients():
    p = nn.Parameter(Tensor([1.0, 2.0]))
    for out in (p * 2, p + Tensor([1.0, 1.0]), Tensor([1.0, 1.0]) * p, p.detach(), p @ p,
                -p, p.sum(), p[0], p.reshape(2, 1)):
        assert type(out) is Tensor, out
    (p * p + p).sum().backward()
    assert p.grad.tolist() == [3.0, 5.0] and type(p.grad) is Tensor


def test_parameter_errors_and_repr_as_pytorch():
    with pytest.raises(TypeError, match="Parameter: data must be a Tensor, got list"):
        nn.Parameter([1.0, 2.0])
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(Tensor([1, 2]))
    assert not nn.Parameter(Tensor([1, 2]), requires_grad=False).requires_grad
    text = repr(nn.Parameter(Tensor([1.0, 2.0])))
    assert text.startswith("Parameter containing:\n") and "requires_grad=True" in text
    torch = pytest.importorskip("torch")
    assert repr(torch.nn.Parameter(torch.ones(1))).startswith("Parameter containing:\n")


@pytest.mark.parametrize("name", zoo.module_classes())
def test_every_layer_registers_parameters(name):
    """What a layer registers is an nn.Parameter (also where it assigned a leaf tensor that
    requires grad: registration makes that same object a Parameter)."""
    model = zoo.build(name)
    for pname, p in model.named_parameters():
        assert isinstance(p, nn.Parameter), (name, pname, type(p))


# ---------------------------------------------------------------------- registration
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(Tensor([1.0, 2.0]))
        self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        self.register_buffer("steps", Tensor([0]))


def test_a_leaf_that_requires_grad_still_registers_and_becomes_a_parameter():
    net = _Net()
    v = Tensor([3.0], requires_grad=True)
    net.v = v
    assert net.v is v and type(v) is nn.Parameter and "v" in dict(net.named_parameters())
    net.plain = Tensor([3.0])  # a tensor that does not require grad stays an attribute
    assert "plain" not in dict(net.named_parameters()) and type(net.plain) is Tensor


def test_a_frozen_parameter_stays_registered_when_reassigned():
    net = _Net()
    net.w.requires_grad_(False)
    net.w = net.w
    assert "w" in dict(net.named_parameters())
    net.w = None
    assert "w" in net._parameters and net.w is None


def test_assigning_a_plain_tensor_over_a_parameter_raises():
    """As PyTorch: lin.weight = Tensor(...) used to drop the parameter silently (optimizers
    and state_dict then saw the old one)."""
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'weight' "
                                        r"\(nn.Parameter or None expected\)"):
        lin.weight = Tensor.zeros(2, 2)
    assert isinstance(lin.weight, nn.Parameter) and "weight" in dict(lin.named_parameters())
    lin.weight = nn.Parameter(Tensor.zeros(2, 2))
    assert lin.weight.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (the type and message are compared)
        return type(e), str(e.args[0])
    return None


def _torch_net(torch):
    class _Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
            self.body = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                            torch.nn.Linear(3, 1))
            self.register_buffer("steps", torch.tensor([0]))

    return _Net()


@pytest.mark.parametrize("call", [
    lambda m, P, T: m.register_parameter("x", T([1.0])),
    lambda m, P, T: m.register_parameter("x.y", None),
    lambda m, P, T: m.register_parameter("", None),
    lambda m, P, T: m.register_parameter(1, None),
    lambda m, P, T: m.register_parameter("training", None),
    lambda m, P, T: m.register_parameter("body", None),
    lambda m, P, T: m.register_module("m", 3),
    lambda m, P, T: m.register_module("w", None),
    lambda m, P, T: m.get_submodule("body.5"),
    lambda m, P, T: m.get_submodule("body.0.weight"),
    lambda m, P, T: m.get_submodule("nothing"),
    lambda m, P, T: m.get_parameter("body.0.nothing"),
    lambda m, P, T: m.get_parameter("steps"),
    lambda m, P, T: m.get_parameter("body"),
    lambda m, P, T: m.get_parameter("body.9.bias"),
    lambda m, P, T: m.get_buffer("w"),
    lambda m, P, T: m.get_buffer("body.0.missing"),
], ids=lambda c: "")
def test_registration_and_lookup_errors_match_pytorch(call):
    torch = pytest.importorskip("torch")
    ours = _error(lambda: call(_Net(), nn.Parameter, Tensor))
    theirs = _error(lambda: call(_torch_net(torch), torch.nn.Parameter, torch.tensor))
    assert theirs is not None and ours is not None, (ours, theirs)
    assert ours[0] is theirs[0], (ours, theirs)
    core = theirs[1].replace("torch.nn.", "nn.").replace("torch.", "")
    core = core.replace("FloatTensor", "Tensor")
    assert core.split(" (")[0] in ours[1], (ours, theirs)


def test_lookup_and_registration_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _Net(), _torch_net(torch)
    assert ours.get_submodule("") is ours
    assert ours.get_submodule("body.2") is ours.body[2]
    assert ours.get_parameter("body.2.bias") is ours.body[2].bias
    assert ours.get_parameter("w") is ours.w
    assert ours.get_buffer("steps") is ours.steps
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert ours.body[0].extra_repr() == theirs.body[0].extra_repr()
    p = nn.Parameter(Tensor([1.0]), requires_grad=False)
    ours.register_parameter("frozen", p)
    assert ours.frozen is p and "frozen" in dict(ours.named_parameters())
    ours.register_module("head", nn.Linear(1, 1))
    assert "head.weight" in ours.state_dict()


# ---------------------------------------------------------------------- dtypes and devices
def _dtypes(model):
    return {k: str(v.dtype).replace("torch.", "") for k, v in model.state_dict().items()}


@pytest.mark.parametrize("convert", [
    lambda m, lib: m.half(), lambda m, lib: m.float(), lambda m, lib: m.double(),
    lambda m, lib: m.to(lib.float64), lambda m, lib: m.to("cpu", lib.float16),
    lambda m, lib: m.to(lib.ones(1, dtype=lib.float64)), lambda m, lib: m.type(lib.float64),
    lambda m, lib: m.type(lib.float16), lambda m, lib: m.cpu(),
    lambda m, lib: m.to(device="cpu"),
], ids=["half", "float", "double", "to_dtype", "to_device_dtype", "to_tensor", "type_f64",
        "type_f16", "cpu", "to_device"])
def test_conversions_keep_the_parameter_objects_and_match_pytorch(convert):
    """half/float/double/to convert the floating point tensors (batch norm's integer
    num_batches_tracked stays int64), type() converts every tensor, as PyTorch; the
    parameter objects stay the same, so an optimizer made before keeps working."""
    import tinygrad_nv
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert convert(model, tinygrad_nv) is model
    assert list(model.parameters()) == params
    assert all(type(p) is nn.Parameter for p in params)
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    convert(theirs, torch)
    assert _dtypes(model) == _dtypes(theirs)
    if model[0].weight.dtype.kind == "f":
        weight = model[0].weight
        model(Tensor.ones(4, 2, dtype=weight.dtype, device=weight.device)).sum().backward()
        opt.step()


def test_to_a_non_floating_dtype_raises_as_pytorch():
    model = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point dtypes, "
                                        "but got desired dtype=int32"):
        model.to(dtypes.int32)
    assert model.weight.dtype == dtypes.float32


def test_cuda_and_cpu_accept_device_arguments(monkeypatch):
    """Module.cuda(device) moves to that GPU (an index, name or device); checked without a
    GPU through the device it asks Module.to for."""
    import tinygrad_nv
    seen = []
    monkeypatch.setattr(nn.Module, "to", lambda self, *a, **k: seen.append((a, k)) or self)
    model = nn.Linear(2, 2)
    model.cuda()
    model.cuda(1)
    model.cuda(tinygrad_nv.device("cuda", 2))
    model.cpu()
    assert [str(tinygrad_nv.device(a[0])) for a, _ in seen] == ["cuda", "cuda:1", "cuda:2",
                                                                "cpu"]
    assert np.all([k == {} for _, k in seen])
