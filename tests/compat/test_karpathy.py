"""Small GPTs and a char-level model zoo written for PyTorch (karpathy/minGPT, nanoGPT's
model.py, makemore), unmodified, with `torch` bound to tinygrad_nv: from the same weights they
give PyTorch's logits, losses, gradients, AdamW steps and generations; their own training
loops run."""

import contextlib
import io
import math
import re
import types

import numpy as np
import pytest

from tests.compat.harness import (
    assert_close,
    assert_same_grads,
    captured,
    copy_state,
    fake_tensorboard,
    load,
    numpy,
    run,
    seeded_torch,  # noqa: F401  (an autouse fixture)
)

WORLDS = ("tinygrad_nv", "torch")


def both(local: str) -> list:
    """The program loaded twice: bound to tinygrad_nv, then to PyTorch (skips without it)."""
    pytest.importorskip("torch")
    return [load(local, name) for name in WORLDS]


def tokens(shape, high, seed=0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, high, shape)


def same_parameters(ours, theirs, rtol=1e-5, atol=1e-6) -> None:
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(mine[name], p, rtol, atol, what=name)


# ------------------------------------------------------------------------------------ minGPT

MINGPT = "mingpt/mingpt/"


def mingpt_config(m, **sizes):
    config = m.GPT.get_default_config()
    config.model_type = None
    config.n_layer, config.n_head, config.n_embd = 2, 2, 16
    config.vocab_size, config.block_size = 11, 8
    config.embd_pdrop = config.resid_pdrop = config.attn_pdrop = 0.0
    config.merge_from_dict(sizes)
    return config


def test_mingpt_forward_backward_adamw_and_generation_match_pytorch():
    worlds = both(MINGPT + "model.py")
    trainer_config = load(MINGPT + "trainer.py").Trainer.get_default_config()
    models = [captured(m.GPT, mingpt_config(m))[0] for m in worlds]
    copy_state(models[1], models[0])
    idx = tokens((3, 8), 11)
    results = []
    for m, model in zip(worlds, models, strict=True):
        torch = m.torch
        optimizer = model.configure_optimizers(trainer_config)  # AdamW, two parameter groups
        losses = []
        for _ in range(3):
            logits, loss = model(torch.tensor(idx), torch.tensor(idx))
            model.zero_grad(set_to_none=True)
            loss.backward()
            losses.append(loss.item())
            if len(losses) == 1:
                first = (numpy(logits), {n: numpy(p.grad) for n, p in model.named_parameters()})
            optimizer.step()
        generated = model.generate(torch.tensor(idx[:1, :3]), 6, do_sample=False)
        results.append((first, losses, numpy(generated).tolist()))
    ((logits, grads), losses, generated), ((t_logits, t_grads), t_losses, t_generated) = results
    np.testing.assert_allclose(logits, t_logits, rtol=1e-4, atol=1e-6)
    for name, g in t_grads.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-3, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(losses, t_losses, rtol=1e-5)
    same_parameters(*models, rtol=1e-4, atol=1e-5)  # Adam: see test_nanogpt_matches_pytorch
    assert generated == t_generated and len(generated[0]) == 9


def test_mingpt_trainer_runs_its_loop_as_pytorch():
    """The Trainer's own loop (DataLoader with RandomSampler(replacement=True,
    num_samples=int(1e10)), pin_memory, AdamW groups, clip_grad_norm_, callbacks), on a
    dataset whose every item is the same sequence: whatever the sampler draws, both worlds
    see the same batches, so the losses of every iteration agree."""
    pytest.importorskip("torch")
    worlds = [(load(MINGPT + "model.py", name), load(MINGPT + "trainer.py", name))
              for name in WORLDS]
    models = [captured(mm.GPT, mingpt_config(mm))[0] for mm, _ in worlds]
    copy_state(models[1], models[0])
    sequence = tokens(9, 11, seed=1)
    runs = []
    for (mm, mt), model in zip(worlds, models, strict=True):
        torch = mm.torch

        class Repeat(torch.utils.data.Dataset):
            make = staticmethod(torch.tensor)

            def __len__(self):
                return 16

            def __getitem__(self, i):
                x = self.make(sequence)
                return x[:-1], x[1:]

        config = mt.Trainer.get_default_config()
        config.max_iters, config.batch_size, config.num_workers = 4, 4, 0
        config.device = "cpu"
        trainer = captured(mt.Trainer, config, model, Repeat())[0]
        losses = []
        trainer.add_callback("on_batch_end", lambda t, losses=losses: losses.append(
            t.loss.item()))
        captured(trainer.run)
        runs.append(losses)
    assert len(runs[0]) == 4 and runs[0][-1] < runs[0][0]
    np.testing.assert_allclose(*runs, rtol=1e-5)
    same_parameters(*models, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------- nanoGPT

NANOGPT = "nanogpt/model.py"


@pytest.mark.parametrize("bias", [True, False])
def test_nanogpt_matches_pytorch(bias):
    """GPT with and without biases, F.scaled_dot_product_attention (its 'flash' path: the
    explicit one exists only where torch lacks SDPA), weight tying, configure_optimizers'
    decay groups (inspect.signature of AdamW), top-k generation (k=1: deterministic),
    estimate_mfu, crop_block_size."""
    worlds = both(NANOGPT)
    models = []
    for m in worlds:
        config = m.GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16,
                             dropout=0.0, bias=bias)
        models.append(captured(m.GPT, config)[0])
    copy_state(models[1], models[0])
    idx = tokens((3, 8), 11, seed=2)
    results = []
    for m, model in zip(worlds, models, strict=True):
        torch = m.torch
        optimizer, text = captured(model.configure_optimizers, 0.1, 1e-3, (0.9, 0.95), "cpu")
        losses = []
        for _ in range(3):
            logits, loss = model(torch.tensor(idx), torch.tensor(idx))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        generated = model.generate(torch.tensor(idx[:2, :3]), 5, temperature=0.8, top_k=1)
        model.crop_block_size(4)
        cropped, _ = model(torch.tensor(idx[:, :4]))
        results.append((text, losses, numpy(generated).tolist(), numpy(cropped),
                        model.estimate_mfu(12, 0.5)))
    (text, losses, generated, cropped, mfu), theirs = results
    assert text == theirs[0] and "num decayed parameter tensors: 10" in text
    np.testing.assert_allclose(losses, theirs[1], rtol=1e-5)
    assert generated == theirs[2]
    np.testing.assert_allclose(cropped, theirs[3], rtol=1e-4, atol=1e-5)
    assert mfu == pytest.approx(theirs[4], rel=1e-12)
    # Adam moves a parameter whose gradient is ~1e-9 by ~lr * sign: rounding decides the sign
    same_parameters(*models, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------- makemore

MAKEMORE = "makemore/makemore.py"
KINDS = ["transformer", "bigram", "mlp", "rnn", "gru", "bow"]


@pytest.fixture
def names_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.RandomState(3)
    names = ["".join(rng.choice(list("abcdefgh"), rng.randint(2, 7))) for _ in range(200)]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    return "names.txt"


def makemore_argv(names_file, kind, steps):
    return ["-i", names_file, "-o", f"out_{kind}", "--type", kind, "--max-steps", str(steps),
            "-n", "0", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--n-embd2", "16",
            "-b", "8", "--seed", "1"]


@pytest.mark.parametrize("kind", KINDS)
def test_makemore_trains_each_model_from_its_command_line(names_file, kind):
    """makemore.py's main: dataset, model, AdamW, its InfiniteDataLoader (RandomSampler with
    replacement and num_samples=1e10), a few steps."""
    _, out = run(MAKEMORE, main=True, fakes=[fake_tensorboard],
                 argv=makemore_argv(names_file, kind, 3))
    losses = [float(x) for x in re.findall(r"step \d+ \| loss (\S+)", out)]
    assert losses and all(0 < x < 2 * math.log(9) for x in losses)
    assert "vocab_size=9, block_size=7" in out


def test_makemore_evaluates_samples_saves_and_resumes(names_file, tmp_path):
    """501 steps of the MLP: at step 200 it samples, at step 500 it evaluates (inference_mode,
    DataLoader), logs to tensorboard and saves the state dict; --sample-only loads it back
    and samples again."""
    argv = makemore_argv(names_file, "mlp", 501)
    _, out = run(MAKEMORE, main=True, fakes=[fake_tensorboard], argv=argv)
    assert out.count("samples that are in train") == 2  # steps 200 and 400
    test_loss = float(re.search(r"step 500 train loss: \S+ test loss: (\S+)", out).group(1))
    assert test_loss < math.log(9) and (tmp_path / "out_mlp" / "model.pt").is_file()
    module = types.ModuleType("__main__")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit):
        load(MAKEMORE, main=True, fakes=[fake_tensorboard], module=module,
             argv=argv + ["--sample-only"])
    text = buffer.getvalue()
    assert "resuming from existing model" in text and "samples that are new" in text
    counts = [int(n) for n in re.findall(r"(\d+) samples that are", text)]
    assert sum(counts) == 50


@pytest.mark.parametrize("kind", KINDS)
def test_makemore_models_match_pytorch(kind):
    """Each model of the zoo from the same weights: logits, loss (ignore_index=-1 on the
    padding), gradients, and greedy generation through makemore's generate()."""
    pytest.importorskip("torch")
    worlds = [load(MAKEMORE, name, fakes=[fake_tensorboard]) for name in WORLDS]
    models = []
    for m in worlds:
        config = m.ModelConfig(block_size=7, vocab_size=9, n_layer=2, n_embd=16, n_embd2=16,
                               n_head=2)
        make = {"transformer": m.Transformer, "bigram": m.Bigram, "mlp": m.MLP, "bow": m.BoW,
                "rnn": lambda c, m=m: m.RNN(c, "rnn"), "gru": lambda c, m=m: m.RNN(c, "gru")}
        models.append(make[kind](config))
    with worlds[1].torch.no_grad():  # away from the zero init of some (ties: see README)
        for p in models[1].parameters():
            p.add_(worlds[1].torch.randn_like(p) * 0.1)
    copy_state(models[1], models[0])
    x = tokens((4, 7), 9, seed=4)
    y = np.where(np.arange(7) < 5, tokens((4, 7), 9, seed=5), -1)  # padded targets
    outs = []
    for m, model in zip(worlds, models, strict=True):
        torch = m.torch
        logits, loss = model(torch.tensor(x), torch.tensor(y))
        loss.backward()
        generated = m.generate(model, torch.tensor(x[:2, :1]), 5, do_sample=False)
        outs.append((logits, loss, numpy(generated).tolist()))
    assert_close(outs[0][0], outs[1][0], rtol=1e-4, atol=1e-6)
    assert_close(outs[0][1], outs[1][1], rtol=1e-5)
    assert_same_grads(*models, rtol=1e-3, atol=1e-6)
    assert outs[0][2] == outs[1][2]
