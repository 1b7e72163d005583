"""bfloat16 on every device: casts bit-exact with PyTorch's over all 65,536 patterns (both
directions), PyTorch's promotion, arithmetic rounded from float32, float32 accumulation in
reductions, gradients, modules, and safetensors files shared with PyTorch."""

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.dtype import result_dtype

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = dtypes.bfloat16
ALL_BITS = np.arange(1 << 16, dtype=np.uint16)


def _bits(t: Tensor) -> np.ndarray:
    return t.numpy().view(np.uint16)


def _same_bits_or_nan(got: np.ndarray, want: np.ndarray, dtype) -> None:
    """Bit-equal, except that any NaN matches any NaN (payloads are not specified)."""
    got_nan = np.isnan(got.view(dtype).astype(np.float32))
    want_nan = np.isnan(want.view(dtype).astype(np.float32))
    np.testing.assert_array_equal(got_nan, want_nan)
    np.testing.assert_array_equal(got[~got_nan], want[~want_nan])


def test_names():
    assert tg.bfloat16 is dtypes.bfloat16 == np.dtype(ml_dtypes.bfloat16)
    assert dtypes.is_float(BF16) and BF16 in dtypes.all
    x = Tensor([1.0, 2.0]).bfloat16()
    assert x.dtype == BF16 and x.to("bfloat16").dtype == BF16
    assert Tensor([1.0], dtype="bfloat16").dtype == BF16
    assert Tensor([1.0], dtype=tg.bfloat16).dtype == BF16


def test_bfloat16_to_float32_all_patterns(device):
    torch = pytest.importorskip("torch")
    x = Tensor(ALL_BITS.view(BF16), device=device)
    want = torch.from_numpy(ALL_BITS.view(np.int16)).view(torch.bfloat16).float()
    got = x.float().numpy().view(np.uint32)
    _same_bits_or_nan(got, want.numpy().view(np.uint32), np.float32)


def test_float32_to_bfloat16_all_patterns_and_ties(device):
    """Every bfloat16 pattern widened, then moved below, to, and past each rounding tie:
    round to nearest even, overflow to infinity, NaN stays NaN, as torch's cast."""
    torch = pytest.importorskip("torch")
    high = ALL_BITS.astype(np.uint32) << 16
    offsets = np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=np.uint32)
    f32 = (high[:, None] | offsets[None, :]).ravel().view(np.float32)
    got = _bits(Tensor(f32, device=device).bfloat16())
    want = torch.from_numpy(f32).bfloat16().view(torch.int16).numpy().view(np.uint16)
    _same_bits_or_nan(got, want, BF16)


@pytest.mark.parametrize("other", ["float16", "float64"])
def test_other_floats_cast_as_torch(device, other):
    torch = pytest.importorskip("torch")
    values = ALL_BITS.view(BF16)
    got = Tensor(values, device=device).cast(other)
    want = torch.from_numpy(ALL_BITS.view(np.int16)).view(torch.bfloat16).to(
        getattr(torch, other)).numpy()
    np.testing.assert_array_equal(got.numpy(), want)  # NaN == NaN for assert_array_equal
    rng = np.random.default_rng(0)
    wide = (rng.standard_normal(4096) * 10.0 ** rng.integers(-8, 5, 4096)).astype(other)
    back = _bits(Tensor(wide, device=device).bfloat16())
    np.testing.assert_array_equal(
        back, torch.from_numpy(wide).bfloat16().view(torch.int16).numpy().view(np.uint16))


def test_promotion_as_torch():
    torch = pytest.importorskip("torch")
    names = ["bfloat16", "float16", "float32", "float64", "int8", "uint8", "int16", "int32",
             "int64", "bool"]
    for a in names:
        for b in names:
            if "bfloat16" not in (a, b):
                continue
            want = torch.promote_types(getattr(torch, a), getattr(torch, b))
            got = result_dtype(tg.dtype.to_dtype(a), tg.dtype.to_dtype(b))
            assert got.name == str(want).removeprefix("torch."), (a, b)
            z = Tensor(np.ones(2), dtype=a) + Tensor(np.ones(2), dtype=b)
            assert z.dtype == got
    assert (Tensor([1.0]).bfloat16() * 2.5).dtype == BF16  # a Python scalar never widens


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_arithmetic_rounds_the_float32_result(device, op):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(2048).astype(BF16) for _ in range(2))
    got = getattr(Tensor(a, device=device), f"__{op.replace('div', 'truediv')}__")(
        Tensor(b, device=device))
    ta, tb = (torch.from_numpy(v.astype(np.float32)).bfloat16() for v in (a, b))
    want = getattr(torch, op)(ta, tb)
    assert got.dtype == BF16
    np.testing.assert_array_equal(_bits(got), want.view(torch.int16).numpy().view(np.uint16))


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "log_softmax", "gelu"])
def test_math_within_one_rounding(device, op):
    """Transcendentals compute in float32 and round once: within one bfloat16 step of torch."""
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).standard_normal((8, 64)).astype(BF16)
    args = (-1,) if op == "log_softmax" else ()
    got = getattr(Tensor(a, device=device), op)(*args)
    tensor = torch.from_numpy(a.astype(np.float32)).bfloat16()
    want = getattr(torch.nn.functional if op == "gelu" else torch, op)(tensor, *args)
    want = want.float().numpy()
    assert got.dtype == BF16
    np.testing.assert_allclose(got.float().numpy(), want, rtol=2**-7, atol=2**-20)


def test_reductions_accumulate_in_float32(device):
    """A sum of 4096 ones and a small term would stall at 256 in bfloat16 accumulation."""
    x = Tensor(np.ones(4096, dtype=BF16), device=device)
    assert x.sum().dtype == BF16 and x.sum().item() == 4096.0
    assert x.mean().item() == 1.0 and x.cumsum(0).numpy()[-1] == 4096.0
    assert (x @ x).dtype == BF16 and (x @ x).item() == 4096.0
    assert x.softmax(0).dtype == BF16 and x.var().item() == 0.0


def test_gradients_and_modules(device):
    model = tg.nn.Sequential(tg.nn.Linear(4, 8), tg.nn.ReLU(), tg.nn.Linear(8, 2)).to(device)
    model.bfloat16()
    assert all(p.dtype == BF16 for p in model.parameters())
    x = Tensor(np.random.default_rng(3).standard_normal((5, 4)), device=device).bfloat16()
    loss = tg.nn.functional.cross_entropy(model(x), Tensor([0, 1, 0, 1, 1], device=device))
    assert loss.dtype == BF16
    loss.backward()
    assert all(p.grad.dtype == BF16 and np.isfinite(p.grad.float().numpy()).all()
               for p in model.parameters())
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    opt.step()
    assert all(p.dtype == BF16 for p in model.parameters())


def test_random_and_creation(device):
    for t in (Tensor.rand(64, dtype=BF16, device=device), Tensor.randn(64, dtype=BF16,
                                                                      device=device),
              Tensor.zeros(3, dtype=BF16, device=device), Tensor.full((2,), 1.5, dtype=BF16,
                                                                     device=device)):
        assert t.dtype == BF16


def test_safetensors_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    theirs = torch.randn(3, 5).bfloat16()
    save_file({"w": theirs}, tmp_path / "torch.safetensors")
    ours = tg.load(tmp_path / "torch.safetensors")["w"]
    assert ours.dtype == BF16
    np.testing.assert_array_equal(_bits(ours), theirs.view(torch.int16).numpy().view(np.uint16))
    tg.save({"w": ours * 3}, tmp_path / "ours.safetensors")
    back = load_file(tmp_path / "ours.safetensors")["w"]
    assert back.dtype == torch.bfloat16
    assert torch.equal(back, theirs * 3)


def _python(code: str) -> str:
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_stays_lazy_and_missing_ml_dtypes_says_what_to_install():
    """`import tinygrad_nv` does not load ml_dtypes (about a CPU-second); the first use of
    bfloat16 does; without ml_dtypes bfloat16 raises an ImportError naming the extra and every
    other dtype works."""
    assert _python("import sys, tinygrad_nv\nprint('ml_dtypes' in sys.modules)") == "False\n"
    # (the default device is probed lazily; CuPy 14, where it is imported, loads ml_dtypes)
    assert _python("import sys, tinygrad_nv as tg\ntg.bfloat16\n"
                   "print('ml_dtypes' in sys.modules)") == "True\n"
    out = _python(  # on the CPU: CuPy (14) would import ml_dtypes itself
        "import os, sys\nos.environ['TINYGRAD_NV_DEVICE'] = 'cpu'\n"
        "sys.modules['ml_dtypes'] = None\nimport tinygrad_nv as tg\n"
        "from tinygrad_nv import Tensor\n"
        "assert (Tensor([1.0]).half() + 1).dtype == tg.float16\n"
        "for get in (lambda: tg.bfloat16, lambda: tg.dtypes.bfloat16,\n"
        "            lambda: Tensor([1.0]).to('bfloat16')):\n"
        "    try:\n        get()\n    except ImportError as e:\n        print(e)\n")
    assert out.count("pip install 'tinygrad_nv[bf16]'") == 3
