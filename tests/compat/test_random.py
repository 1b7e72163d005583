"""Generators and RNG state as PyTorch's: `Generator`, `generator=` on the random builders,
`manual_seed` returning the default generator, and `get_rng_state`/`set_rng_state` (per device
too) resuming a random stream exactly."""

import pytest

import tinygrad_nv as tg
from tinygrad_nv import Tensor


def draws(generator=None, device="cpu"):
    """One of every random builder, drawn in order from `generator` (or the default)."""
    g = {"generator": generator, "device": device}
    weights = Tensor([1.0, 2.0, 3.0], device=device)
    return [tg.rand(3, **g), tg.randn(2, 2, **g), tg.randint(0, 10, (4,), **g),
            tg.randperm(5, **g), tg.normal(0.0, 2.0, size=(3,), **g),
            Tensor.uniform(2, low=-1.0, high=1.0, **g),
            weights.multinomial(2, generator=generator),
            Tensor.zeros(2, device=device).uniform_(generator=generator),
            Tensor.zeros(2, device=device).normal_(generator=generator)]


def same(a, b):
    return [t.tolist() for t in a] == [t.tolist() for t in b]


@pytest.mark.parametrize("where", ["cpu", "emu"])
def test_generator_state_resumes_every_builder_exactly(where):
    g = tg.Generator(where).manual_seed(7)
    assert g.initial_seed() == 7 and str(g.device) == where
    draws(g, where)
    state = g.get_state()
    assert state.dtype == tg.uint8 and str(state.device) == "cpu"
    first = draws(g, where)
    assert g.set_state(state) is g
    assert same(draws(g, where), first)
    assert not same(draws(g, where), first)  # the stream moved on


def test_generators_are_independent_of_the_default_stream():
    a, b = tg.Generator().manual_seed(3), tg.Generator().manual_seed(3)
    tg.manual_seed(0)
    tg.rand(5)  # the default stream moves; the generators do not
    assert same(draws(a), draws(b))
    assert tg.Generator().initial_seed() == 67280421310721  # PyTorch's default seed


def test_manual_seed_returns_the_default_generator_and_reproduces():
    g = tg.manual_seed(42)
    assert g is tg.default_generator and g.initial_seed() == 42 == tg.initial_seed()
    first = draws()
    tg.manual_seed(42)
    assert same(draws(), first)
    assert tg.manual_seed(-1).initial_seed() == 2**64 - 1  # wraps, as PyTorch
    s = tg.seed()
    assert tg.initial_seed() == s


@pytest.mark.parametrize("where", ["cpu", "emu"])
def test_rng_state_resumes_the_default_stream(where):
    tg.manual_seed(1)
    if where == "cpu":
        save, load = tg.get_rng_state, tg.set_rng_state
    else:  # per device: the cuda module's functions take any device
        save, load = (lambda: tg.cuda.get_rng_state(where)), (
            lambda s: tg.cuda.set_rng_state(s, where))
    draws(device=where)
    state = save()
    first = draws(device=where)
    load(state)
    assert same(draws(device=where), first)


def test_rng_state_goes_into_a_checkpoint(tmp_path):
    tg.manual_seed(5)
    tg.save({"rng": tg.get_rng_state()}, tmp_path / "ckpt.safetensors")
    first = draws()
    tg.set_rng_state(tg.load(tmp_path / "ckpt.safetensors")["rng"])
    assert same(draws(), first)


@pytest.mark.parametrize("call,error,match", [
    (lambda: tg.rand(2, device="cpu", generator=tg.Generator("emu")), RuntimeError,
     "expected a generator on device 'cpu' but found one on 'emu'"),
    (lambda: tg.rand(2, generator=3), TypeError, "must be a tinygrad_nv.Generator"),
    (lambda: tg.Generator().manual_seed(1.5), TypeError, "expected an int seed, got float"),
    (lambda: tg.manual_seed(2**64), ValueError, "out of range"),
    (lambda: tg.set_rng_state(Tensor.zeros(3, dtype=tg.uint8)), RuntimeError, "40 bytes"),
    (lambda: tg.set_rng_state(Tensor.zeros(40)), TypeError, "must be a uint8 Tensor"),
    (lambda: tg.set_rng_state([1, 2]), TypeError, "expected a uint8 Tensor"),
])
def test_bad_generator_use_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_generator_api_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = tg.Generator(), torch.Generator()
    assert ours.initial_seed() == theirs.initial_seed()
    assert (ours.manual_seed(5) is ours) and (theirs.manual_seed(5) is theirs)
    assert isinstance(ours.seed(), int) and isinstance(theirs.seed(), int)
    assert str(ours.device) == str(theirs.device)
