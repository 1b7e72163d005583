"""The official PyTorch examples (pytorch/examples), unmodified, with `torch` bound to
tinygrad_nv: each runs through its own entry point (command-line options shrink it, synthetic
data comes in through torchvision's dataset classes or the program's data options), and its
model, loss and training functions give PyTorch's numbers from the same weights."""

import math
import re
import types

import numpy as np
import pytest

from tests.compat.harness import (
    FAKE_SIZES,
    assert_close,
    assert_same_grads,
    call_main,
    captured,
    copy_state,
    fake_torchvision,
    load,
    no_dropout,
    numpy,
    pytorch_default_device,  # noqa: F401  (a fixture, used below)
    run,
    seeded_torch,  # noqa: F401  (an autouse fixture)
)

EX = "pytorch_examples/"


# the programs choose torch.device("cpu"): run them where PyTorch's default device is
pytestmark = pytest.mark.usefixtures("pytorch_default_device")

def floats(text: str, pattern: str) -> list[float]:
    return [float(x) for x in re.findall(pattern, text)]


def same_parameters(ours, theirs, rtol=1e-5, atol=1e-6) -> None:
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(mine[name], p, rtol, atol, what=name)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tiny_mnist(monkeypatch):
    monkeypatch.setitem(FAKE_SIZES, "train", 16)
    monkeypatch.setitem(FAKE_SIZES, "test", 8)


def mnist_loaders(m, batch_size=8):
    """DataLoaders over the synthetic MNIST with the example's transform, in `m`'s world."""
    tv = fake_torchvision(m.torch)
    t = tv["torchvision.transforms"]
    transform = t.Compose([t.ToTensor(), t.Normalize((0.1307,), (0.3081,))])
    make = tv["torchvision.datasets"].MNIST
    return [m.torch.utils.data.DataLoader(make("../data", train=train, transform=transform),
                                          batch_size=batch_size) for train in (True, False)]


# ------------------------------------------------------------------------------------ mnist

def test_mnist_main_trains_and_tests(tiny_mnist, workdir):
    m = load(EX + "mnist/main.py", fakes=[fake_torchvision])
    out = call_main(m, ["--epochs", "2", "--batch-size", "8", "--test-batch-size", "8",
                        "--log-interval", "1", "--save-model"], [fake_torchvision])
    losses = floats(out, r"Loss: (\S+)")
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert out.count("Test set: Average loss") == 2 and (workdir / "mnist_cnn.pt").is_file()


def test_mnist_train_and_test_give_pytorch_numbers(tiny_mnist):
    """The example's Net, train() and test() with Adadelta and StepLR, from the same weights
    (dropout set to 0 on the instances): every printed loss, the accuracy and the weights."""
    pytest.importorskip("torch")
    worlds = [load(EX + "mnist/main.py", name, fakes=[fake_torchvision])
              for name in ("tinygrad_nv", "torch")]
    models = [m.Net() for m in worlds]
    copy_state(models[1], models[0])
    outputs = []
    for m, model in zip(worlds, models, strict=True):
        no_dropout(model)
        train_loader, test_loader = mnist_loaders(m)
        optimizer = m.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = m.StepLR(optimizer, step_size=1, gamma=0.7)
        args = types.SimpleNamespace(log_interval=1, dry_run=False)
        device = m.torch.device("cpu")
        text = ""
        for epoch in (1, 2):
            text += captured(m.train, args, model, device, train_loader, optimizer, epoch)[1]
            text += captured(m.test, model, device, test_loader)[1]
            scheduler.step()
        outputs.append(text)
    number = r"(\d+\.\d+)"
    assert outputs[0].count("Loss:") == 4
    np.testing.assert_allclose(floats(outputs[0], number), floats(outputs[1], number),
                               rtol=2e-4)
    # Adadelta at lr 1 steps a weight by ~sqrt(eps)/sqrt(eps + g^2) * g: for the weights with
    # the smallest gradients the float32 rounding of g moves the step by a few 1e-5
    same_parameters(*models, rtol=1e-3, atol=1e-4)


# ----------------------------------------------------------------------- word language model

WLM = EX + "word_language_model/"


@pytest.fixture
def corpus(workdir):
    rng = np.random.RandomState(0)
    words = [f"w{i}" for i in range(25)]
    folder = workdir / "corpus"
    folder.mkdir()
    for split, lines in [("train", 40), ("valid", 10), ("test", 10)]:
        text = "\n".join(" ".join(rng.choice(words, 8)) for _ in range(lines))
        (folder / f"{split}.txt").write_text(text + "\n")
    return str(folder)


@pytest.mark.parametrize("model", ["LSTM", "Transformer"])
def test_word_language_model_main_trains_then_refuses_to_pickle_the_model(corpus, model):
    """main.py trains and validates an epoch, then saves the whole module with
    torch.save(model, f): here a file holds a state_dict (loading never unpickles), so that
    line raises, saying what to save instead."""
    argv = ["--data", corpus, "--model", model, "--emsize", "16", "--nhid", "16", "--epochs",
            "1", "--bptt", "5", "--batch_size", "4", "--log-interval", "4", "--save", "m.pt"]
    module = types.ModuleType("__main__")
    with pytest.raises(TypeError, match=r"state_dict"):
        captured(load, WLM + "main.py", main=True, argv=argv, module=module)
    val_loss = module.evaluate(module.val_data)
    assert math.isfinite(val_loss) and val_loss < math.log(len(module.corpus.dictionary)) + 1


@pytest.mark.parametrize("rnn_type,tied", [("LSTM", False), ("GRU", False), ("RNN_TANH", False),
                                           ("RNN_RELU", False), ("LSTM", True)])
def test_word_language_rnn_models_match_pytorch(rnn_type, tied):
    """RNNModel (embedding, 2-layer recurrent net, decoder, weight tying) from the same weights:
    log-probabilities, hidden state, gradients, and three steps of main.py's update
    (clip_grad_norm_ then p.data.add_(p.grad, alpha=-lr))."""
    pytest.importorskip("torch")
    worlds = [load(WLM + "model.py", name) for name in ("tinygrad_nv", "torch")]
    models = [m.RNNModel(rnn_type, 20, 8, 8, 2, dropout=0.0, tie_weights=tied) for m in worlds]
    copy_state(models[1], models[0])
    data = np.random.RandomState(1).randint(0, 20, (6, 3))
    results = []
    for m, model in zip(worlds, models, strict=True):
        torch = m.torch
        hidden = model.init_hidden(3)
        steps = []
        for _ in range(3):
            model.zero_grad()
            hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) \
                else hidden.detach()
            output, hidden = model(torch.tensor(data[:5]), hidden)
            loss = torch.nn.NLLLoss()(output, torch.tensor(data[1:]).view(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            steps.append((numpy(output), numpy(loss), [numpy(h) for h in
                          (hidden if isinstance(hidden, tuple) else (hidden,))]))
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-20)
        results.append(steps)
    for (out, loss, hidden), (t_out, t_loss, t_hidden) in zip(*results, strict=True):
        np.testing.assert_allclose(out, t_out, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(loss, t_loss, rtol=1e-5)
        for h, t in zip(hidden, t_hidden, strict=True):
            np.testing.assert_allclose(h, t, rtol=1e-4, atol=1e-5)
    same_parameters(*models, rtol=1e-4, atol=1e-5)


def test_word_language_transformer_model_matches_pytorch():
    """TransformerModel (an nn.Transformer subclass: its encoder with a float -inf causal
    mask from torch.log(torch.tril(...)), positional encoding buffer), eval mode: outputs and
    gradients from the same weights."""
    pytest.importorskip("torch")
    worlds = [load(WLM + "model.py", name) for name in ("tinygrad_nv", "torch")]
    models = [m.TransformerModel(20, 8, 2, 16, 2, dropout=0.0) for m in worlds]
    copy_state(models[1], models[0])
    data = np.random.RandomState(2).randint(0, 20, (6, 3))
    outs = []
    for m, model in zip(worlds, models, strict=True):
        model.eval()
        out = model(m.torch.tensor(data))
        m.torch.nn.functional.nll_loss(out.view(-1, 20), m.torch.tensor(data).view(-1)).backward()
        outs.append(out)
    assert_close(*outs, rtol=1e-4, atol=1e-5)
    assert_same_grads(*models, rtol=1e-3, atol=1e-5)


def test_word_language_corpus_tokenizes_as_in_pytorch(corpus):
    pytest.importorskip("torch")
    ours, theirs = (load(WLM + "data.py", name).Corpus(corpus) for name in ("tinygrad_nv",
                                                                              "torch"))
    assert ours.dictionary.idx2word == theirs.dictionary.idx2word
    assert numpy(ours.train).tolist() == numpy(theirs.train).tolist()
    assert ours.train.dtype == np.int64


# ------------------------------------------------------------------- time sequence prediction

def test_time_sequence_prediction_lbfgs_matches_pytorch():
    """Two LSTMCells in float64 (seq.double()), trained by LBFGS with a closure, then a
    prediction of the future: every closure loss and the prediction, from the same weights
    (sine waves as generate_sine_wave.py makes them, shorter)."""
    x = np.arange(24).reshape(2, 12) + np.random.RandomState(2).randint(-8, 8, (2, 1))
    data = np.sin(x / 1.0 / 20).astype("float64")
    pytest.importorskip("torch")
    worlds = [load(EX + "time_sequence_prediction/train.py", name)
              for name in ("tinygrad_nv", "torch")]
    results, models = [], []
    for m in worlds:
        seq = m.Sequence()
        seq.double()
        models.append(seq)
    copy_state(models[1], models[0])
    for m, seq in zip(worlds, models, strict=True):
        torch = m.torch
        inp, target = torch.from_numpy(data[:, :-1]), torch.from_numpy(data[:, 1:])
        optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8)
        criterion = torch.nn.MSELoss()
        losses = []

        def closure(seq=seq, optimizer=optimizer, criterion=criterion, inp=inp, target=target,
                    losses=losses):
            optimizer.zero_grad()
            loss = criterion(seq(inp), target)
            losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)  # up to 20 closure calls (LBFGS' max_iter)
        with torch.no_grad():
            future = seq(inp[:1], future=5)
        results.append((losses, numpy(future)))
    (losses, future), (t_losses, t_future) = results
    assert len(losses) == len(t_losses) > 2 and losses[-1] < losses[0] / 10
    np.testing.assert_allclose(losses, t_losses, rtol=1e-7)
    np.testing.assert_allclose(future, t_future, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------------------------- vae

def test_vae_main_trains_tests_and_samples(tiny_mnist, workdir):
    (workdir / "results").mkdir()
    m, out = run(EX + "vae/main.py", main=True, fakes=[fake_torchvision],
                 argv=["--epochs", "1", "--batch-size", "8", "--log-interval", "1"])
    assert floats(out, r"Test set loss: (\S+)")[0] < 784 * math.log(2) * 1.1
    assert "Average loss" in out and "Using device: cpu" in out


def test_vae_loss_and_gradients_match_pytorch(tiny_mnist):
    """The VAE and its loss_function (binary cross-entropy summed + KL term) from the same
    weights, with z = mu (reparameterize draws noise)."""
    pytest.importorskip("torch")
    argv = ["--batch-size", "8"]
    worlds = [load(EX + "vae/main.py", name, argv=argv, fakes=[fake_torchvision])
              for name in ("tinygrad_nv", "torch")]
    copy_state(worlds[1].model, worlds[0].model)
    losses = []
    for m in worlds:
        data, _ = next(iter(m.test_loader))  # not shuffled: the same images in both
        mu, logvar = m.model.encode(data.view(-1, 784))
        loss = m.loss_function(m.model.decode(mu), data, mu, logvar)
        loss.backward()
        losses.append(loss)
    assert_close(*losses, rtol=1e-5)
    assert_same_grads(worlds[0].model, worlds[1].model, rtol=1e-3, atol=1e-5)


# ------------------------------------------------------------------------------ regression

def test_regression_learns_the_polynomial(workdir):
    """The whole script: it loops until the smooth L1 loss is below 1e-3, then prints the
    learned and the actual polynomial ('{:+.2f}'.format of 0-d tensors)."""
    _, out = run(EX + "regression/main.py", main=True)
    learned = floats(re.search(r"Learned function:\s+(.*)", out).group(1), r"([-+]\d+\.\d+)")
    actual = floats(re.search(r"Actual function:\s+(.*)", out).group(1), r"([-+]\d+\.\d+)")
    assert len(learned) == len(actual) == 5
    np.testing.assert_allclose(learned, actual, atol=0.25)
    assert float(re.search(r"Loss: (\S+)", out).group(1)) < 1e-3


# ----------------------------------------------------------------------------------- dcgan

DCGAN_ARGS = ["--dataset", "fake", "--niter", "1", "--batchSize", "4", "--imageSize", "64",
              "--ngf", "4", "--ndf", "4", "--nz", "8", "--workers", "0", "--outf", "out",
              "--manualSeed", "1"]


@pytest.fixture
def tiny_fake_data(monkeypatch):
    monkeypatch.setitem(FAKE_SIZES, "train", 8)


def test_dcgan_main_trains_and_checkpoints(tiny_fake_data, workdir):
    m, out = run(EX + "dcgan/main.py", main=True, fakes=[fake_torchvision], argv=DCGAN_ARGS)
    losses = floats(out, r"Loss_D: (\S+)") + floats(out, r"Loss_G: (\S+)")
    assert len(losses) == 4 and all(0 < x < 10 for x in losses)
    assert (workdir / "out" / "netG_epoch_0.pth").is_file()
    state = m.torch.load("out/netD_epoch_0.pth", weights_only=True)
    assert sorted(state) == sorted(m.netD.state_dict())


def test_dcgan_generator_and_discriminator_match_pytorch(tiny_fake_data, workdir):
    """One step of the example's GAN update from the same weights: ConvTranspose2d and
    BatchNorm2d (batch statistics) in the generator, strided convolutions and LeakyReLU in
    the discriminator, BCELoss, Adam(betas=(0.5, 0.999))."""
    pytest.importorskip("torch")
    worlds = [run(EX + "dcgan/main.py", name, main=True, fakes=[fake_torchvision],
                  argv=DCGAN_ARGS)[0] for name in ("tinygrad_nv", "torch")]
    nets = [(m.Generator(1), m.Discriminator(1)) for m in worlds]
    for ours, theirs in zip(*nets, strict=True):
        copy_state(theirs, ours)
    noise = np.random.RandomState(3).randn(4, 8, 1, 1).astype(np.float32)
    outs = []
    for m, (g, d) in zip(worlds, nets, strict=True):
        torch = m.torch
        opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        fake = g(torch.tensor(noise))
        output = d(fake)
        err = m.criterion(output, torch.full((4,), 1.0))
        err.backward()
        opt_g.step()
        outs.append((fake, output, err))
    for ours, theirs in zip(*outs, strict=True):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert_same_grads(nets[0][1], nets[1][1], rtol=1e-3, atol=1e-6)
    same_parameters(nets[0][0], nets[1][0], rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------- mnist_rnn

def test_mnist_rnn_main_and_pytorch_numbers(tiny_mnist):
    """An LSTM over image rows (batch_first), BatchNorm1d and Dropout2d on a 2-D input: main()
    runs; train() and test() from the same weights give PyTorch's printed numbers."""
    ours = load(EX + "mnist_rnn/main.py", fakes=[fake_torchvision])
    out = call_main(ours, ["--epochs", "1", "--batch-size", "8", "--test-batch-size", "8",
                           "--log-interval", "1"], [fake_torchvision])
    assert len(floats(out, r"Loss: (\S+)")) == 2 and "Test set" in out
    pytest.importorskip("torch")
    theirs = load(EX + "mnist_rnn/main.py", "torch", fakes=[fake_torchvision])
    models = [ours.Net(), theirs.Net()]
    copy_state(models[1], models[0])
    outputs = []
    for m, model in zip((ours, theirs), models, strict=True):
        no_dropout(model)
        train_loader, test_loader = mnist_loaders(m)
        optimizer = m.optim.Adadelta(model.parameters(), lr=0.1)
        args = types.SimpleNamespace(log_interval=1, dry_run=False)
        device = m.torch.device("cpu")
        text = captured(m.train, args, model, device, train_loader, optimizer, 1)[1]
        outputs.append(text + captured(m.test, args, model, device, test_loader)[1])
    np.testing.assert_allclose(floats(outputs[0], r"(\d+\.\d+)"),
                               floats(outputs[1], r"(\d+\.\d+)"), rtol=1e-4)
    same_parameters(*models, rtol=1e-3, atol=1e-5)


# ------------------------------------------------------------------ mnist_forward_forward

def test_mnist_forward_forward_trains_layer_by_layer(workdir, monkeypatch):
    """Geoffrey Hinton's forward-forward training (an nn.Linear subclass that overrides
    train(), x[range(n), y] = v, Lambda transforms), from its command line."""
    monkeypatch.setitem(FAKE_SIZES, "train", 64)
    monkeypatch.setitem(FAKE_SIZES, "test", 32)
    _, out = run(EX + "mnist_forward_forward/main.py", main=True, fakes=[fake_torchvision],
                 argv=["--epochs", "30", "--train_size", "64", "--test_size", "32"])
    losses = floats(out, r"Loss:\s+(\S+)")
    assert len(losses) == 6 and losses[2] < losses[0] and losses[5] < losses[3]
    assert 0 <= float(re.search(r"train error: (\S+)", out).group(1)) <= 1


def test_forward_forward_overlay_matches_pytorch():
    pytest.importorskip("torch")
    worlds = [load(EX + "mnist_forward_forward/main.py", name, fakes=[fake_torchvision])
              for name in ("tinygrad_nv", "torch")]
    x = np.random.RandomState(4).rand(5, 20).astype(np.float32)
    y = [3, 0, 9, 1, 3]
    outs = [m.overlay_y_on_x(m.torch.tensor(x), m.torch.tensor(y)) for m in worlds]
    assert_close(*outs, rtol=0, atol=0)


# ---------------------------------------------------------- super resolution, neural style

def test_super_resolution_net_matches_pytorch():
    """Convolutions with orthogonal_ initialisation and PixelShuffle."""
    ours = load(EX + "super_resolution/model.py").Net(upscale_factor=3)
    w = numpy(ours.conv2.weight).reshape(64, -1)
    np.testing.assert_allclose(w @ w.T, 2 * np.eye(64), atol=1e-4)  # gain('relu')^2 = 2
    pytest.importorskip("torch")
    theirs = load(EX + "super_resolution/model.py", "torch").Net(upscale_factor=3)
    copy_state(theirs, ours)
    x = np.random.RandomState(5).randn(2, 1, 6, 6).astype(np.float32)
    outs = []
    for model in (ours, theirs):
        out = model(next(model.parameters()).new_tensor(x))
        (out * out).mean().backward()
        outs.append(out)
    assert numpy(outs[0]).shape == (2, 1, 18, 18)
    assert_close(*outs, rtol=1e-4, atol=1e-6)
    assert_same_grads(ours, theirs, rtol=1e-3, atol=1e-6)


def test_fast_neural_style_transformer_net_matches_pytorch():
    """Reflection padding, strided convolutions, InstanceNorm2d(affine=True), residual
    blocks, nearest upsampling (the style-transfer network), from the same weights."""
    ours = load(EX + "fast_neural_style/neural_style/transformer_net.py").TransformerNet()
    pytest.importorskip("torch")
    theirs = load(EX + "fast_neural_style/neural_style/transformer_net.py",
                  "torch").TransformerNet()
    copy_state(theirs, ours)
    x = np.random.RandomState(6).rand(1, 3, 12, 12).astype(np.float32) * 255
    outs = []
    for model in (ours, theirs):
        out = model(next(model.parameters()).new_tensor(x))
        out.mean().backward()
        outs.append(out)
    assert numpy(outs[0]).shape == (1, 3, 12, 12)
    assert_close(*outs, rtol=1e-3, atol=1e-3)
    assert_same_grads(ours, theirs, rtol=1e-2, atol=1e-5)
