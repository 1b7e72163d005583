"""char_lm.py and autoencoder.py run with tiny settings, write their PNGs and weights, and the
weights load back into the same models; the full default runs are slow-marked."""

import importlib
import re

import numpy as np
import pytest

from tinygrad_nv import Tensor
from tinygrad_nv.state import load

from .helpers import EXAMPLES, check_png

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")


@pytest.fixture(autouse=True)
def _examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("MPLBACKEND", "Agg")


TINY_LM = ["--steps", "4", "--evals", "2", "--val-batches", "1", "--batch-size", "4",
           "--context", "16", "--width", "16", "--sample-length", "20", "--text-chars", "20000"]


@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_char_lm_tiny(tmp_path, capsys, model):
    char_lm = importlib.import_module("char_lm")
    assert char_lm.main(["--model", model, *TINY_LM, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"validation loss \d+\.\d+ nats/char \(unigram \d", out)
    sample = out.split("then the model):\n", 1)[1]
    assert len(sample.splitlines()[0]) > 0
    check_png(tmp_path / f"char_lm_{model}.png")
    weights = load(tmp_path / f"char_lm_{model}.safetensors")
    text = char_lm.load_text()[:20000]
    fresh = char_lm.make_model(model, len(set(text)), 16, 16)
    fresh.load_state_dict(weights)
    assert fresh(Tensor(np.zeros((1, 16), dtype=np.int64))).shape == (1, 16, len(set(text)))


def test_autoencoder_tiny(tmp_path, capsys):
    autoencoder = importlib.import_module("autoencoder")
    assert autoencoder.main(["--epochs", "2", "--out", str(tmp_path)]) == 0
    assert "test reconstruction MSE" in capsys.readouterr().out
    for png in ("autoencoder_reconstructions.png", "autoencoder_codes.png"):
        check_png(tmp_path / png)
    model = autoencoder.AutoEncoder(2)
    model.load_state_dict(load(tmp_path / "autoencoder.safetensors"))
    assert model(Tensor(np.zeros((3, 1, 8, 8), dtype=np.float32))).shape == (3, 1, 8, 8)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_char_lm_defaults_beat_the_unigram_baseline(tmp_path, model):
    assert importlib.import_module("char_lm").main(["--model", model,
                                                    "--out", str(tmp_path)]) == 0


@pytest.mark.slow
def test_autoencoder_defaults_reach_the_target(tmp_path):
    assert importlib.import_module("autoencoder").main(["--out", str(tmp_path)]) == 0
