"""Device objects (`tinygrad_nv.device`) as PyTorch's, accepted wherever a device name is, and
`Tensor.device` / `.to` / `.is_cuda`."""

import pickle

import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, nn


@pytest.mark.parametrize("args,kind,index,text", [
    (("cpu",), "cpu", None, "cpu"), (("cuda",), "cuda", None, "cuda"),
    (("cuda:1",), "cuda", 1, "cuda:1"), (("cuda", 2), "cuda", 2, "cuda:2"),
    ((3,), "cuda", 3, "cuda:3"), (("emu:1",), "emu", 1, "emu:1"), (("cpu:0",), "cpu", 0, "cpu:0"),
])
def test_device_fields_str_and_repr(args, kind, index, text):
    d = tg.device(*args)
    assert (d.type, d.index, str(d)) == (kind, index, text)
    assert repr(d) == (f"device(type='{kind}')" if index is None
                       else f"device(type='{kind}', index={index})")
    assert tg.device(d) == d and pickle.loads(pickle.dumps(d)) == d


def test_device_equality_and_hash_follow_pytorch():
    assert tg.device("cuda:0") == tg.device("cuda", 0)
    assert hash(tg.device("cuda:0")) == hash(tg.device("cuda", 0))
    assert tg.device("cuda") != tg.device("cuda:0")  # no index is not index 0, as in PyTorch
    assert tg.device("cpu") != "cpu" and not (tg.device("cpu") == "cpu")  # never a string
    assert len({tg.device("cpu"), tg.device("cpu"), tg.device("emu")}) == 2
    with pytest.raises(AttributeError, match="not writable"):
        tg.device("cpu").type = "cuda"


@pytest.mark.parametrize("args,error,match", [
    (("foo",), RuntimeError, "Expected one of cpu, cuda, emu device type"),
    (("CUDA",), RuntimeError, "Expected one of"), (("cuda:x",), RuntimeError, "Invalid device"),
    (("cuda:-1",), RuntimeError, "Invalid device"), (("cuda:01",), RuntimeError, "Invalid"),
    (("cuda", -1), RuntimeError, "must not be negative"),
    (("cuda:0", 1), RuntimeError, "must not include an index"),
    (("cuda", "1"), TypeError, "must be int, not str"), ((1.5,), TypeError, "got float"),
])
def test_device_rejects_what_pytorch_rejects(args, error, match):
    with pytest.raises(error, match=match):
        tg.device(*args)


def test_device_matches_torch():
    torch = pytest.importorskip("torch")
    for spec in [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 2), ("cpu:0",)]:
        ours, theirs = tg.device(*spec), torch.device(*spec)
        assert (ours.type, ours.index, str(ours), repr(ours)) == (
            theirs.type, theirs.index, str(theirs), repr(theirs))
    assert (tg.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")


def test_tensor_device_is_a_device_object(device):
    t = Tensor([1.0], device=device)
    assert isinstance(t.device, tg.device) and str(t.device) == device
    assert t.device == tg.device(device) and t.device.type == device.split(":")[0]
    assert t.is_cuda == device.startswith("cuda")


def test_device_objects_are_accepted_wherever_names_are(device):
    where = tg.device(device)
    made = [Tensor([1.0], device=where), Tensor.zeros(2, device=where),
            tg.tensor([1, 2], device=where), Tensor.rand(2, device=where),
            Tensor.arange(3, device=where), Tensor([1.0]).to(where),
            Tensor([1.0]).to(device=where)]
    assert all(t.device == where for t in made)
    model = nn.Linear(2, 3).to(where)
    assert all(p.device == where for p in model.parameters())


def test_to_positional_forms():
    x = Tensor([1.0, 2.0], device="cpu")
    assert x.to("cpu") is x and x.to(x) is x and x.to(tg.float32) is x
    assert x.to("cpu", tg.float64).dtype == tg.float64
    assert x.to(Tensor([1], dtype=tg.int64, device="cpu")).dtype == tg.int64
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.tolist() == x.tolist()
    assert x.to(tg.float32, False, True) is not x  # (dtype, non_blocking, copy)
    assert x.to("cpu", non_blocking=True) is x
    with pytest.raises(ValueError, match="neither a device"):
        x.to("foo")


def test_to_another_device_is_differentiable():
    x = Tensor([1.0, 2.0], device="cpu", requires_grad=True)
    (x.to(tg.device("emu")) * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and str(x.grad.device) == "cpu"


def test_device_flags_of_a_tensor(device):
    t = Tensor([1.0], device=device)
    assert (t.is_cpu, t.is_cuda, t.is_xpu, t.is_mps, t.is_meta) == (
        device == "cpu", device.startswith("cuda"), False, False, False)
