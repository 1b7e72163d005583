"""copy.deepcopy and in-memory pickle of Tensors, Parameters, Modules (every class in nn),
state_dicts, optimizers and schedulers, as PyTorch: the best-model and EMA idioms work and a
copy is independent of its original. (Files stay safetensors: tests/test_state.py.)"""

import copy
import pickle

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.optim as optim
from tests.nn import zoo
from tinygrad_nv import Tensor, no_grad

# ---------------------------------------------------------------------- tensors
DTYPES = ["float32", "float64", "float16", "int8", "uint8", "int16", "int32", "int64", "bool"]


def _roundtrip(how: str, value):
    return copy.deepcopy(value) if how == "deepcopy" else pickle.loads(pickle.dumps(value))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_values_dtype_device_survive(how, dtype, device):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((3, 4)) * 5).astype(dtype)
    x = Tensor(values, device=device)
    for t in (x, x.T, x[1], x.reshape(-1)[5]):  # views and a 0-d tensor too
        c = _roundtrip(how, t)
        assert type(c) is Tensor and c.dtype == t.dtype and c.shape == t.shape
        assert str(c.device) == str(t.device) and c.is_leaf and not c.requires_grad
        np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_has_its_own_storage(how, device):
    x = Tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    c = _roundtrip(how, x)
    assert c.requires_grad and c.is_leaf and c._version == 0
    with no_grad():
        c.mul_(10)
    assert x.tolist() == [1.0, 2.0, 3.0] and c.tolist() == [10.0, 20.0, 30.0]
    (c * c).sum().backward()  # the copy is a working leaf
    assert x.grad is None and c.grad.tolist() == [20.0, 40.0, 60.0]


def test_deepcopy_copies_grad_pickle_drops_it(device):
    """As PyTorch: deepcopy copies .grad (its own storage), pickle does not keep it."""
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * 3).sum().backward()
    c = copy.deepcopy(x)
    assert c.grad.tolist() == [3.0, 3.0] and c.grad is not x.grad
    c.grad.mul_(2)
    assert x.grad.tolist() == [3.0, 3.0]
    assert pickle.loads(pickle.dumps(x)).grad is None


def test_deepcopy_of_a_non_leaf_that_requires_grad_raises_pickle_gives_a_leaf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user "
                                           r"\(graph leaves\) support the deepcopy protocol"):
        copy.deepcopy(y)
    p = pickle.loads(pickle.dumps(y))  # PyTorch pickles it as a leaf that requires grad
    assert p.is_leaf and p.requires_grad and p.tolist() == [2.0, 4.0]
    assert copy.deepcopy(y.detach()).tolist() == [2.0, 4.0]
    with no_grad():
        assert copy.deepcopy(x * 3).tolist() == [3.0, 6.0]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_tensors_sharing_storage_still_share_it_in_the_copy(how):
    """One copy of each storage, as PyTorch's memo of storages: a parameter and the detached
    view of it in a state_dict stay one storage."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    a, b, again = _roundtrip(how, [x, x.detach(), x])
    assert again is a
    with no_grad():
        b.add_(5)
    assert a.tolist() == [6.0, 7.0] and x.tolist() == [1.0, 2.0]


def test_copies_match_pytorch():
    torch = pytest.importorskip("torch")

    def cases(lib):
        leaf = lib.tensor([1.0, 2.0], requires_grad=True)
        (leaf * 2).sum().backward()
        return {"leaf": leaf, "plain": lib.tensor([1, 2]), "non_leaf": leaf * 3}

    def summary(t):
        return (t.requires_grad, t.is_leaf, t.grad is None, t.tolist())

    import tinygrad_nv
    ours, theirs = cases(tinygrad_nv), cases(torch)
    for name in ours:
        assert summary(_roundtrip("pickle", ours[name])) == summary(
            _roundtrip("pickle", theirs[name])), name
        if name != "non_leaf":
            assert summary(copy.deepcopy(ours[name])) == summary(copy.deepcopy(theirs[name]))


# ---------------------------------------------------------------------- parameters
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("requires_grad", [True, False])
def test_parameter_stays_a_parameter(how, requires_grad):
    p = nn.Parameter(Tensor([1.0, 2.0]), requires_grad=requires_grad)
    c = _roundtrip(how, p)
    assert type(c) is nn.Parameter and c.requires_grad == requires_grad
    assert c.tolist() == [1.0, 2.0] and c is not p


# ---------------------------------------------------------------------- every nn module
def _same_state(a: nn.Module, b: nn.Module, shared: bool) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and sa[key].shape == sb[key].shape, key
        np.testing.assert_array_equal(sa[key].numpy(), sb[key].numpy(), err_msg=key)
        assert np.shares_memory(sa[key].numpy(), sb[key].numpy()) == shared, key


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("name", zoo.module_classes())
def test_every_module_copies_to_an_equal_independent_model(name, how):
    model = zoo.build(name)
    model.eval()
    clone = _roundtrip(how, model)
    assert type(clone) is type(model) and repr(clone) == repr(model)
    assert not clone.training
    if getattr(model, "has_uninitialized_params", lambda: False)():  # a lazy layer: no values
        assert [type(p) for p in clone.parameters()] == [type(p) for p in model.parameters()]
        assert not {id(p) for p in clone.parameters()} & {id(p) for p in model.parameters()}
        return
    _same_state(model, clone, shared=False)
    for (na, pa), (nb, pb) in zip(model.named_parameters(), clone.named_parameters(),
                                  strict=True):
        assert na == nb and pb is not pa and type(pb) is type(pa)
        assert pb.requires_grad == pa.requires_grad and pb.is_leaf
    with no_grad():
        for p in clone.parameters():
            p.add_(1)
    for (_, pa), (_, pb) in zip(model.named_parameters(), clone.named_parameters()):
        np.testing.assert_array_equal(pb.numpy(), pa.numpy() + 1)


def _inputs(name: str):
    rng = np.random.default_rng(1)

    def r(*shape):
        return Tensor(rng.standard_normal(shape).astype(np.float32))

    return {"Linear": (r(5, 3),), "Conv2d": (r(2, 4, 5, 5),), "LSTM": (r(3, 2, 4),),
            "GRU": (r(3, 2, 4),), "RNN": (r(3, 2, 4),), "BatchNorm1d": (r(6, 4),),
            "LayerNorm": (r(2, 4),), "Embedding": (Tensor([[0, 4], [2, 2]]),),
            "MultiheadAttention": (r(3, 2, 4), r(3, 2, 4), r(3, 2, 4)),
            "TransformerEncoderLayer": (r(3, 2, 4),), "Sequential": (r(4, 2),)}[name]


def _flat(out):
    return [o for x in out for o in _flat(x)] if isinstance(out, (tuple, list)) else \
        [] if out is None else [out]


@pytest.mark.parametrize("name", ["Linear", "Conv2d", "LSTM", "GRU", "RNN", "BatchNorm1d",
                                  "LayerNorm", "Embedding", "MultiheadAttention",
                                  "TransformerEncoderLayer", "Sequential"])
def test_a_copied_model_computes_the_same_and_trains_alone(name):
    Tensor.manual_seed(0)
    model = zoo.build(name).eval()
    clone = copy.deepcopy(model)
    args = _inputs(name)
    for a, b in zip(_flat(model(*args)), _flat(clone(*args)), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(clone.parameters(), lr=0.1)
    sum(o.float().sum() for o in _flat(clone.train()(*args))).backward()
    opt.step()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    assert all(p.grad is None for p in model.parameters())


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.head = nn.Linear(4, 5, bias=False)
        self.head.weight = self.embed.weight  # weight tying


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_tied_weights_stay_tied_and_hooks_come_along(how):
    model = _Tied()
    seen = []
    if how == "deepcopy":  # a lambda does not pickle (in PyTorch neither)
        model.head.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    clone = _roundtrip(how, model)
    assert clone.head.weight is clone.embed.weight
    assert clone.embed.weight is not model.embed.weight
    assert len(list(clone.parameters())) == 1
    if how == "deepcopy":
        clone.head(Tensor.zeros(2, 4))
        assert seen == [(2, 5)]


# ---------------------------------------------------------------------- idioms
def _mlp():
    Tensor.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def _batch():
    rng = np.random.default_rng(2)
    return (Tensor(rng.standard_normal((16, 3)).astype(np.float32)),
            Tensor(rng.standard_normal((16, 1)).astype(np.float32)))


def _train(model, opt, steps=3):
    x, y = _batch()
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return loss.item()


def test_best_model_idiom_restores_the_saved_state_dict():
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt)
    best = copy.deepcopy(model.state_dict())
    saved = {k: v.numpy().copy() for k, v in best.items()}
    _train(model, opt)
    assert any(not np.array_equal(v.numpy(), saved[k]) for k, v in model.state_dict().items())
    for k, v in best.items():  # the copy did not follow the training
        np.testing.assert_array_equal(v.numpy(), saved[k])
    model.load_state_dict(best)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), saved[k])


def test_ema_idiom():
    """ema = deepcopy(model), updated through .data after every step, as timm's ModelEmaV2
    and the PyTorch examples do; the model's training never moves ema by itself."""
    model, decay = _mlp(), 0.9
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = optim.SGD(model.parameters(), lr=0.1)
    expected = [p.numpy().copy() for p in ema.parameters()]
    for _ in range(3):
        _train(model, opt, steps=1)
        for e, p, want in zip(ema.parameters(), model.parameters(), expected):
            e.data.mul_(decay).add_(p.data, alpha=1 - decay)
            want *= decay
            want += (1 - decay) * p.numpy()
    for e, want in zip(ema.parameters(), expected):
        np.testing.assert_allclose(e.numpy(), want, rtol=1e-6)
    assert all(not e.requires_grad and e.grad is None for e in ema.parameters())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                 optim.Adagrad])
def test_model_optimizer_and_scheduler_copied_together_continue_identically(cls, how):
    """(model, optimizer, scheduler) copied in one go: the copy's optimizer holds the copy's
    parameters with its state, the scheduler the copy's optimizer; both runs then agree."""
    model = _mlp()
    kwargs = {"momentum": 0.9} if cls in (optim.SGD, optim.RMSprop) else {}
    opt = cls([{"params": model[0].parameters()},
               {"params": model[2].parameters(), "lr": 0.02}], lr=0.05, **kwargs)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    _train(model, opt)
    sched.step()
    model2, opt2, sched2 = _roundtrip(how, (model, opt, sched))
    assert sched2.optimizer is opt2
    assert [p for g in opt2.param_groups for p in g["params"]] == list(model2.parameters())
    assert set(opt2.state) == set(model2.parameters())
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for run in ((model, opt, sched), (model2, opt2, sched2)):
        for _ in range(3):
            _train(run[0], run[1], steps=1)
            run[2].step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_optimizer_state_dict_copies(how):
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=0.05)
    _train(model, opt)
    state = opt.state_dict()
    copied = _roundtrip(how, state)
    assert copied["param_groups"] == state["param_groups"]
    for i, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                np.testing.assert_array_equal(copied["state"][i][key].numpy(), value.numpy())
                assert copied["state"][i][key] is not value
            else:
                assert copied["state"][i][key] == value
