"""`--jit` in train_digits.py and char_lm.py: the recorded and replayed step trains the very
weights eager training gives (bit for bit)."""

import importlib

import numpy as np
import pytest

from tinygrad_nv.state import load

from .helpers import EXAMPLES

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")


@pytest.fixture(autouse=True)
def _examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def weights_after(tmp_path, name: str, *args: str) -> dict:
    path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.safetensors"
    module = importlib.import_module(name)
    if name == "train_digits":
        assert module.main([*args, "--save", str(path), "--out", str(tmp_path)]) == 0
    else:  # char_lm saves into --out
        out = tmp_path / path.stem
        assert module.main([*args, "--out", str(out)]) == 0
        path = next(out.glob("*.safetensors"))
    return {k: v.numpy() for k, v in load(path).items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_train_digits_jit_trains_the_same_weights(tmp_path, model, device):
    args = ["--model", model, "--epochs", "1", "--batch-size", "256", "--device", device]
    assert_same(weights_after(tmp_path, "train_digits", *args),
                weights_after(tmp_path, "train_digits", *args, "--jit"))


@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_char_lm_jit_trains_the_same_weights(tmp_path, model, device):
    args = ["--model", model, "--steps", "5", "--evals", "1", "--val-batches", "1",
            "--batch-size", "4", "--context", "16", "--width", "16", "--sample-length", "5",
            "--text-chars", "20000", "--device", device]
    assert_same(weights_after(tmp_path, "char_lm", *args),
                weights_after(tmp_path, "char_lm", *args, "--jit"))
