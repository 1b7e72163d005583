"""Every example runs with tiny settings and writes its PNG; train_digits reaches its accuracy
at full settings (slow)."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROOT = EXAMPLES.parent
HAS_MPL = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(autouse=True)
def _examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def run(name: str, *args: str) -> int:
    return importlib.import_module(name).main(list(args))


def check_png(path: Path) -> None:
    if HAS_MPL:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name, args, png", [
    ("one_neuron", [], "one_neuron.png"),
    ("learning_rate", ["--steps", "15"], "learning_rate.png"),
    ("xor", ["--steps", "600"], "xor.png"),
    ("overfitting", ["--epochs", "3", "--train-size", "40"], "overfitting.png"),
    ("adversarial", ["--epochs", "1"], "adversarial.png"),
    ("saliency", ["--epochs", "1"], "saliency_mlp.png"),
])
def test_example_runs(tmp_path, name, args, png):
    assert run(name, *args, "--out", str(tmp_path)) == 0
    check_png(tmp_path / png)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_train_digits_saves_weights_others_load(tmp_path, capsys, model):
    from tinygrad_nv.state import load
    weights = tmp_path / f"{model}.safetensors"
    assert run("train_digits", "--model", model, "--epochs", "1", "--out", str(tmp_path),
               "--save", str(weights)) == 0
    assert re.search(r"test accuracy: 0\.\d{4}\s*$", capsys.readouterr().out)
    check_png(tmp_path / f"digits_{model}.png")
    last_layer = {"mlp": "3.weight", "cnn": "classifier.1.weight"}[model]
    assert load(weights)[last_layer].shape[0] == 10
    assert run("adversarial", "--model", model, "--weights", str(weights), "--out",
               str(tmp_path)) == 0
    assert "loaded" in capsys.readouterr().out


def test_script_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(EXAMPLES / "one_neuron.py"), "--out",
                             str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "gradients match the formulas: yes" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("model, target", [("mlp", 0.97), ("cnn", 0.98)])
def test_train_digits_reaches_accuracy(tmp_path, capsys, model, target):
    assert run("train_digits", "--model", model, "--out", str(tmp_path)) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    accuracy = float(re.fullmatch(r"test accuracy: (\d\.\d+)", last).group(1))
    assert accuracy >= target
    assert (tmp_path / f"digits_{model}.safetensors").exists()
