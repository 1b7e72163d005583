"""autocast: the dtype of every op under autocast on cpu and emu (the CPU table against
PyTorch's CPU autocast where torch is installed, the CUDA table on emu), float64 never cast,
mixed inputs by promotion, the parameter cast cache, float32 gradients of float32 leaves,
nesting, enabled=False, the decorator form, per-thread state, gradcheck inside a region; the
recurrent layers and cells in every layout and mix of input and state dtypes against PyTorch's
CPU autocast and the tables, their values and float32 gradients."""

import threading

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, dtypes, nn
from tinygrad_nv.amp import autocast_lists, op_calls
from tinygrad_nv.testing import gradcheck

F = tg.nn.functional
LOWS = ("bfloat16", "float16")


def _kind(device: str) -> str:
    return "cpu" if device == "cpu" else "cuda"


def _expected(category, low: str, inputs: str) -> str:
    return {"low": low, "fp32": "float32"}.get(category, inputs)


@pytest.mark.parametrize("name", sorted(autocast_lists.wrapped_ops()))
@pytest.mark.parametrize("low", LOWS)
def test_table_ops(device, name, low):
    """Every op the tables name gives its category's dtype, for float32 and low inputs."""
    pattern = op_calls.sample_pattern(name, with_torch=False)
    if name in ("binary_cross_entropy",) and _kind(device) == "cuda":
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            op_calls.our_dtypes(name, pattern, "cuda", getattr(tg, low), device)
        return
    if name in ("quantile", "nanquantile") and _kind(device) == "cuda":
        # in the CPU table only: on CUDA low-precision inputs are refused, as PyTorch's
        with pytest.raises(RuntimeError, match="must be either float or double"):
            op_calls.our_dtypes(name, pattern, "cuda", getattr(tg, low), device)
        return
    assert pattern is not None, name
    category = autocast_lists.TABLES[_kind(device)].get(name)
    wide, narrow = op_calls.our_dtypes(name, pattern, _kind(device), getattr(tg, low), device)
    assert (wide, narrow) == (_expected(category, low, "float32"),
                              _expected(category, low, low)), (name, category)


def test_cpu_table_is_pytorchs():
    """The stored CPU table is what PyTorch's CPU autocast does today, for both dtypes."""
    pytest.importorskip("torch")
    assert op_calls.record_cpu_table() == {low: autocast_lists.CPU for low in LOWS}


@pytest.fixture(scope="module")
def patterns():
    pytest.importorskip("torch")
    return {n: op_calls.sample_pattern(n) for n in op_calls.our_names()}


@pytest.mark.parametrize("low", LOWS)
def test_every_op_as_pytorch_on_cpu(patterns, low):
    """Every floating op we have: our dtypes under autocast('cpu') are PyTorch's."""
    import torch
    wrong = {}
    for name, pattern in patterns.items():
        if pattern is None:
            continue
        theirs = op_calls.torch_cpu_dtypes(name, pattern, getattr(torch, low))
        ours = op_calls.our_dtypes(name, pattern, "cpu", getattr(tg, low), "cpu")
        if theirs != ours:
            wrong[name] = (theirs, ours)
    assert not wrong
    assert sum(p is not None for p in patterns.values()) > 180


def test_float64_never_cast_and_promotion(device):
    x64 = Tensor(np.random.default_rng(0).random((3, 3)), device=device)
    x32 = x64.float()
    with tg.autocast(_kind(device), dtype=tg.bfloat16):
        assert (x64 @ x64).dtype == dtypes.float64
        assert (x64 @ x32).dtype == dtypes.float64  # x32 cast low, then promoted
        low = x32 @ x32
        assert low.dtype == dtypes.bfloat16
        assert (low + x32).dtype == dtypes.float32  # not a table op: promotion
        assert F.mse_loss(x64, x64).dtype == dtypes.float64


def test_parameter_casts_are_cached_per_region(device):
    w = Tensor(np.ones((2, 3), np.float32), device=device, requires_grad=True)
    x = Tensor(np.ones((4, 3), np.float32), device=device)
    with tg.autocast(_kind(device), dtype=tg.float16):
        a, b = F.linear(x, w), F.linear(x * 2, w)
        assert a._ctx.parents[1] is b._ctx.parents[1]  # one cast of w for both uses
        assert a._ctx.parents[0] is not b._ctx.parents[0]  # activations are not cached
    with tg.autocast(_kind(device), dtype=tg.float16):
        assert F.linear(x, w)._ctx.parents[1] is not a._ctx.parents[1]  # a new region
    with tg.autocast(_kind(device), dtype=tg.float16, cache_enabled=False):
        assert F.linear(x, w)._ctx.parents[1] is not F.linear(x, w)._ctx.parents[1]
    with tg.autocast(_kind(device), dtype=tg.float16):
        before = F.linear(x, w)._ctx.parents[1]
        with tg.no_grad():
            w.add_(1.0)  # changed in place: the cached cast is stale
        after = F.linear(x, w)
        assert after._ctx.parents[1] is not before and after.numpy()[0, 0] == 6.0


def test_gradients_reach_float32_leaves_in_float32(device):
    rng = np.random.default_rng(1)
    w = Tensor(rng.standard_normal((3, 4)).astype(np.float32), device=device,
               requires_grad=True)
    x = Tensor(rng.standard_normal((5, 4)).astype(np.float32), device=device,
               requires_grad=True)
    with tg.autocast(_kind(device), dtype=tg.bfloat16):
        loss = F.cross_entropy(F.linear(x, w), Tensor([0, 1, 2, 0, 1], device=device))
    assert loss.dtype == dtypes.float32
    loss.backward()
    assert w.grad.dtype == x.grad.dtype == dtypes.float32
    ref_w = Tensor(w.numpy(), requires_grad=True)
    F.cross_entropy(F.linear(Tensor(x.numpy()), ref_w), Tensor([0, 1, 2, 0, 1])).backward()
    np.testing.assert_allclose(w.grad.numpy(), ref_w.grad.numpy(), rtol=0.05, atol=0.02)


def test_nesting_enabled_false_and_decorator(device):
    x = Tensor(np.ones((2, 2), np.float32), device=device)
    kind = _kind(device)
    with tg.autocast(kind, dtype=tg.bfloat16):
        with tg.autocast(kind, dtype=tg.float16):
            assert (x @ x).dtype == dtypes.float16
        assert (x @ x).dtype == dtypes.bfloat16
        with tg.autocast(kind, enabled=False):
            assert (x @ x).dtype == dtypes.float32
            assert not tg.amp.is_autocast_enabled(kind)
        assert tg.amp.is_autocast_enabled(kind)
        assert tg.amp.get_autocast_dtype(kind) == dtypes.bfloat16
    assert (x @ x).dtype == dtypes.float32

    @tg.amp.autocast(kind, dtype=tg.float16)
    def product(a):
        return a @ a

    assert product(x).dtype == dtypes.float16 and (x @ x).dtype == dtypes.float32
    other = "cuda" if kind == "cpu" else "cpu"  # a region of the other device type
    with tg.autocast(other):
        assert (x @ x).dtype == dtypes.float32


def test_per_thread(device):
    x = Tensor(np.ones((2, 2), np.float32), device=device)
    seen = []
    with tg.autocast(_kind(device), dtype=tg.bfloat16):
        thread = threading.Thread(target=lambda: seen.append((x @ x).dtype))
        thread.start()
        thread.join()
        assert (x @ x).dtype == dtypes.bfloat16
    assert seen == [dtypes.float32]


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="device_type"):
        tg.autocast("cuda:0")
    with pytest.warns(UserWarning, match="not supported"):
        region = tg.autocast("cpu", dtype=tg.float64)
    x = Tensor(np.ones((2, 2), np.float32), device="cpu")
    with region:
        assert (x @ x).dtype == dtypes.float32


def test_gradcheck_stays_float64_inside_a_region():
    rng = np.random.default_rng(2)
    inputs = [Tensor(rng.standard_normal(s), device="cpu", requires_grad=True)
              for s in ((3, 4), (2, 4))]
    with tg.autocast("cpu"):
        assert gradcheck(lambda a, b: F.linear(a, b).softmax(-1), inputs)


def test_namespace():
    assert tg.autocast is tg.amp.autocast
    x = Tensor(np.ones((2, 2), np.float32), device="cpu")
    with tg.amp.autocast("cpu"):
        assert (x @ x).dtype == dtypes.bfloat16


def test_torch_cuda_amp_spellings():
    """torch.cuda.amp.autocast(enabled, dtype, cache_enabled) and GradScaler(init_scale, ...):
    cuda (and emu, which follows the cuda lists)."""
    x = Tensor(np.ones((2, 2), np.float32), device="emu")
    with tg.cuda.amp.autocast():
        assert (x @ x).dtype == dtypes.float16
    with tg.cuda.amp.autocast(dtype=tg.bfloat16):
        assert (x @ x).dtype == dtypes.bfloat16
    with tg.cuda.amp.autocast(enabled=False):
        assert (x @ x).dtype == dtypes.float32
    if not tg.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            assert not tg.cuda.amp.GradScaler(init_scale=8.0).is_enabled()


# ---------------------------------------------------------------------- recurrent layers, cells
RECURRENT = ("RNN", "RNN-relu", "LSTM", "GRU", "RNNCell", "RNNCell-relu", "LSTMCell", "GRUCell")
LAYOUTS = ({}, {"bidirectional": True}, {"batch_first": True}, {"num_layers": 2},
           {"bias": False}, "packed")


def _cases(low: str, cell: bool) -> list:
    """(layout, input dtype, (h0 dtype, c0 dtype) or None): every layout without states, and
    the initial states in every mix of float32 and `low`, padded and packed."""
    layouts = ({}, {"bias": False}) if cell else LAYOUTS
    mixes = [(a, b) for a in ("float32", low) for b in ("float32", low)]
    cases = [(lay, x, None) for lay in layouts for x in ("float32", low, "float64")]
    cases += [(lay, x, mix) for lay in (({},) if cell else ({}, "packed"))
              for x in ("float32", low) for mix in mixes]
    return cases + [({}, "float64", ("float64", "float64"))]


def _recurrent(lib, kind: str, case: tuple, low: str, device_type: str, device: str = "cpu"):
    """(dtype names of the output and every final state, of the parameters' gradients) of one
    module under lib's autocast(device_type, low); or the raised exception."""
    name, _, relu = kind.partition("-")
    layout, x_dtype, states = case
    kwargs = {**(layout if isinstance(layout, dict) else {}),
              **({"nonlinearity": "relu"} if relu else {})}
    cell, lstm = name.endswith("Cell"), name.startswith("LSTM")
    module = getattr(lib.nn, name)(3, 4, **kwargs).to(device)
    rng = np.random.default_rng(0)

    def t(shape, dtype):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32), device=device).to(
            getattr(lib, dtype))

    x = t((2, 3) if cell else (5, 2, 3), x_dtype)
    args = [lib.nn.utils.rnn.pack_padded_sequence(x, [5, 3]) if layout == "packed" else x]
    if states is not None:
        shape = (2, 4) if cell else (1, 2, 4)
        h, c = t(shape, states[0]), t(shape, states[1])
        args.append((h, c) if lstm else h)
    try:
        with lib.autocast(device_type, dtype=getattr(lib, low)):
            out = module(*args)
    except (RuntimeError, ValueError) as e:
        return e
    out = [out] if not isinstance(out, tuple) else [out[0], *(
        out[1] if isinstance(out[1], tuple) else (out[1],))]
    out = [o[0] if isinstance(o, tuple) else o for o in out]  # a PackedSequence's data
    sum(o.float().sum() for o in out).backward()
    names = [str(o.dtype).removeprefix("torch.") if lib is not tg else o.dtype.name
             for o in (*out, *(p.grad for p in module.parameters()))]
    return names[:len(out)], sorted(set(names[len(out):]))


def _from_table(kind: str, case: tuple, low: str, device_type: str):
    """What our table says _recurrent gives (None: it raises, as float64 inputs do)."""
    name, _, relu = kind.partition("-")
    layout, x_dtype, states = case
    if x_dtype == "float64":
        return None
    mode = "rnn_relu" if relu else "rnn_tanh" if name.startswith("RNN") else \
        name.lower().removesuffix("cell")
    composite = mode == "lstm" and (layout == "packed" or x_dtype == "float16")
    op = mode + ("_cell" if name.endswith("Cell") else "_composite" if composite else "")
    category = autocast_lists.TABLES[_kind(device_type)][op]
    outputs = {"LSTM": 3, "LSTMCell": 2}.get(name, 1 if name.endswith("Cell") else 2)
    if category.startswith(autocast_lists.LOW_WITH):
        state = x_dtype if states is None else states[mode == "lstm"]  # GRU's h, LSTM's c
        dtype = tg.dtype.result_dtype(getattr(dtypes, low), getattr(dtypes, state)).name
    else:
        dtype = {"low": low, "fp16": "float16"}[category]
    return [dtype] * outputs, ["float32"]


@pytest.mark.parametrize("kind", RECURRENT)
@pytest.mark.parametrize("low", LOWS)
def test_recurrent_as_pytorch_on_cpu(kind, low):
    """Every recurrent layer and cell, layout, input dtype and mix of state dtypes: our
    dtypes (outputs, final states, parameters' gradients) under autocast('cpu') are PyTorch's
    and our table's; float64 inputs raise in both."""
    torch = pytest.importorskip("torch")
    for case in _cases(low, kind.partition("-")[0].endswith("Cell")):
        theirs = _recurrent(torch, kind, case, low, "cpu")
        ours = _recurrent(tg, kind, case, low, "cpu")
        expected = _from_table(kind, case, low, "cpu")
        if isinstance(theirs, Exception) and "primitive descriptor" in str(theirs):
            theirs = expected  # oneDNN's float16 LSTM: not on this CPU (autocast_lists)
        if expected is None:
            assert isinstance(theirs, Exception) and isinstance(ours, Exception), case
        else:
            assert ours == theirs == expected, case


@pytest.mark.parametrize("kind", RECURRENT)
@pytest.mark.parametrize("low", LOWS)
def test_recurrent_follows_the_table(device, kind, low):
    """On every device, the recurrent dtypes are its table's (emu and cuda: the CUDA one)."""
    for case in _cases(low, kind.partition("-")[0].endswith("Cell")):
        ours = _recurrent(tg, kind, case, low, _kind(device), device)
        expected = _from_table(kind, case, low, device)
        assert isinstance(ours, Exception) if expected is None else ours == expected, case


@pytest.mark.parametrize("kind", RECURRENT)
@pytest.mark.parametrize("low", LOWS)
def test_recurrent_values_and_float32_gradients(device, kind, low):
    """Under autocast, outputs and the float32 parameters' gradients (float32) are those of a
    float32 run on the input and parameters rounded to the op's dtype, each rounded once: the
    recurrence runs in float32 on the rounded values."""
    name, _, relu = kind.partition("-")
    module = getattr(nn, name)(5, 8, **({"nonlinearity": "relu"} if relu else {})).to(device)
    x = Tensor(np.random.default_rng(3).standard_normal(
        (3, 5) if name.endswith("Cell") else (6, 3, 5)).astype(np.float32), device=device)

    def run(x):
        out = module(x)
        out = out if isinstance(out, tuple) else (out,)
        out = [o for item in out for o in (item if isinstance(item, tuple) else (item,))]
        sum(o.float().sum() for o in out).backward()
        grads = [p.grad.numpy() for p in module.parameters()]
        module.zero_grad()
        return [o.numpy() for o in out], grads

    with tg.autocast(_kind(device), dtype=getattr(tg, low)):
        out, grads = run(x)
    dtype = getattr(dtypes, _from_table(kind, ({}, "float32", None), low, device)[0][0])
    with tg.no_grad():
        for p in module.parameters():
            p.copy_(p.cast(dtype).float())
    ref_out, ref_grads = run(x.cast(dtype).float())
    eps = float(np.finfo(dtype).eps)  # one rounding: half of it at most, relative
    for o, r in zip(out, ref_out):
        assert o.dtype == dtype
        np.testing.assert_allclose(o.astype(np.float32), r, rtol=eps, atol=1e-6)
    for g, r in zip(grads, ref_grads):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, r, rtol=eps, atol=eps * np.abs(r).max())
