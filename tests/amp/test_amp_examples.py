"""The examples' --amp option: train_digits and char_lm train under autocast (fp16 with a
GradScaler) with tiny settings, and the shared Amp helper casts what autocast should."""

import importlib
import re

import numpy as np
import pytest

from tinygrad_nv import Tensor, dtypes

from ..examples.helpers import EXAMPLES

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")


@pytest.fixture(autouse=True)
def _examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_train_digits_amp(tmp_path, capsys, mode):
    main = importlib.import_module("train_digits").main
    assert main(["--amp", mode, "--epochs", "3", "--save", "none", "--out",
                 str(tmp_path)]) == 0
    accuracy = float(re.search(r"test accuracy: ([\d.]+)", capsys.readouterr().out)[1])
    assert accuracy > 0.85


def test_char_lm_amp(tmp_path, capsys):
    main = importlib.import_module("char_lm").main
    assert main(["--amp", "bf16", "--steps", "3", "--text-chars", "20000", "--evals", "1",
                 "--val-batches", "1", "--sample-length", "5", "--out", str(tmp_path)]) == 0
    assert "validation loss" in capsys.readouterr().out


@pytest.mark.parametrize("mode, dtype", [("off", "float32"), ("bf16", "bfloat16"),
                                         ("fp16", "float16")])
def test_amp_helper(mode, dtype):
    common = importlib.import_module("common")
    amp = common.Amp(mode, "cpu")
    x = Tensor(np.ones((2, 3), np.float32), device="cpu")
    with amp.autocast():
        assert (x @ x.T).dtype == getattr(dtypes, dtype)
    assert amp.scaler.is_enabled() == (mode == "fp16")
