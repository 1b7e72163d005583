"""Every example runs with tiny settings and writes the PNGs the README names, each showing
something; output reads well off a terminal (plain lines, no carriage returns); --help gives
every option's meaning and default; train_digits reaches its accuracy at full settings (slow)."""

import importlib
import os
import re
import subprocess
import sys

import pytest

from .helpers import EXAMPLES, check_png

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
ROOT = EXAMPLES.parent
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if p.stem != "common")
# example: (tiny settings, the PNGs it writes); xor and train_digits below, char_lm and
# autoencoder in test_examples_layers.py
FIGURES = {
    "one_neuron": ([], ["one_neuron.png"]),
    "learning_rate": (["--steps", "15"], ["learning_rate.png"]),
    "overfitting": (["--epochs", "3", "--seeds", "2", "--train-size", "40", "--hidden", "32"],
                    ["overfitting.png"]),
    "adversarial": (["--epochs", "1"], ["adversarial.png"]),
    "saliency": (["--epochs", "1"], ["saliency_mlp.png", "saliency_units.png"]),
    "train_digits_distributed": (["--epochs", "1", "--save", "none"],
                                 ["digits_mlp_distributed.png"]),
}


@pytest.fixture(autouse=True)
def _examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def run(name: str, *args: str) -> int:
    return importlib.import_module(name).main(list(args))


def run_piped(name: str, *args: str) -> subprocess.CompletedProcess:
    """The example as a script with stdout and stderr to pipes, as in CI or `| cat`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_writes_its_figures(tmp_path, name):
    args, pngs = FIGURES[name]
    if name == "train_digits_distributed":  # one process, apart: init() stays out of pytest
        run_piped(name, *args, "--out", str(tmp_path))
    else:
        assert run(name, *args, "--out", str(tmp_path)) == 0
    for png in pngs:
        check_png(tmp_path / png)


def test_every_example_is_checked_for_its_figures():
    assert set(FIGURES) | {"xor", "train_digits", "char_lm", "autoencoder"} == set(SCRIPTS)


def test_xor_keeps_one_figure_per_activation(tmp_path):
    for activation in ("tanh", "relu"):
        assert run("xor", "--steps", "600", "--activation", activation, "--out",
                   str(tmp_path)) == 0
        check_png(tmp_path / f"xor_{activation}.png")
    check_png(tmp_path / "xor_tanh.png")  # still there


@pytest.mark.parametrize("name, args", [("one_neuron", []), ("learning_rate", ["--steps", "5"])])
def test_example_computes_on_the_device_asked_for(tmp_path, name, args):
    """A device other than the default: tensors made without device= would meet it and fail."""
    from tinygrad_nv.backend import default_device
    other = "emu" if default_device() == "cpu" else "cpu"
    assert run(name, *args, "--device", other, "--out", str(tmp_path)) == 0


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


def test_piped_training_prints_one_plain_line_per_epoch(tmp_path):
    result = run_piped("train_digits", "--epochs", "3", "--save", "none", "--out",
                       str(tmp_path))
    assert "\r" not in result.stdout + result.stderr
    assert "epoch/s" not in result.stderr  # no progress bar at all
    lines = result.stdout.splitlines()
    epochs = [line for line in lines if "epoch" in line]
    assert len(epochs) == 3
    for number, line in enumerate(epochs, start=1):
        assert re.fullmatch(rf"mlp: epoch {number}/3  train loss \d\.\d{{4}}  test loss "
                            r"\d\.\d{4}  test accuracy \d\.\d{4}", line)
    assert re.fullmatch(r"test accuracy: \d\.\d{4}", lines[-1])


def test_piped_steps_print_every_hundred_and_the_last(tmp_path):
    result = run_piped("xor", "--steps", "250", "--out", str(tmp_path))
    assert "\r" not in result.stdout + result.stderr
    steps = re.findall(r"^xor: step (\d+)/250  loss \d\.\d{4}$", result.stdout, re.MULTILINE)
    assert steps == ["100", "200", "250"]


def test_progress_redraws_only_on_a_terminal(monkeypatch, capsys):
    import common
    for terminal in (False, True):
        monkeypatch.setattr(common, "on_terminal", lambda terminal=terminal: terminal)
        progress = common.Progress(range(5), "fit", unit="epoch", every=2)
        for epoch in progress:
            progress.report(loss=1.0 / (epoch + 1))
        out, err = capsys.readouterr()
        if terminal:  # the bar on stderr carries the figures; no lines without lines=True
            assert out == "" and "\r" in err and "loss 0.2000" in err
        else:
            assert err == ""
            assert out.splitlines() == ["fit: epoch 2/5  loss 0.5000",
                                        "fit: epoch 4/5  loss 0.2500",
                                        "fit: epoch 5/5  loss 0.2000"]


def help_entries(text: str) -> dict[str, str]:
    """option -> its help text, from argparse's "options:" section."""
    section = text.split("\noptions:\n", 1)[1]
    entries = re.split(r"\n(?=  -)", section.strip("\n"))
    return {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries}


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_gives_each_option_meaning_and_default(monkeypatch, capsys, name):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_info:
        run(name, "--help")
    assert exit_info.value.code == 0
    entries = help_entries(capsys.readouterr().out)
    assert {"--out", "--device"} <= set(entries)
    for option, entry in entries.items():
        if option != "-h":
            assert "default" in entry, f"{name} --help: {option} lacks help or default: {entry!r}"


def test_script_entry_point(tmp_path):
    result = run_piped("one_neuron", "--out", str(tmp_path))
    assert "gradients match the formulas: yes" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("model, target", [("mlp", 0.97), ("cnn", 0.98)])
def test_train_digits_reaches_accuracy(tmp_path, capsys, model, target):
    assert run("train_digits", "--model", model, "--out", str(tmp_path)) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    accuracy = float(re.fullmatch(r"test accuracy: (\d\.\d+)", last).group(1))
    assert accuracy >= target
    assert (tmp_path / f"digits_{model}.safetensors").exists()


def test_saliency_reads_hidden_activations_through_a_forward_hook(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    saliency = importlib.import_module("saliency")
    import numpy as np
    from common import make_mlp

    from tinygrad_nv import Tensor
    model = make_mlp(hidden=16)
    x = np.random.default_rng(0).random((20, 64)).astype(np.float32)
    device = model[0].weight.device
    weights, top_input, _ = saliency.hidden_units(model, x, device)
    activations = model[0](Tensor(x, device=device)).relu().numpy()
    units = np.argsort(-activations.std(axis=0))[:saliency.UNITS]
    np.testing.assert_array_equal(top_input, activations[:, units].argmax(axis=0))
    np.testing.assert_array_equal(weights, model[0].weight.numpy()[units])
    assert not model[1]._forward_hooks  # the handle removed the hook again
