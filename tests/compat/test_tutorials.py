"""The official PyTorch tutorials (pytorch/tutorials, beginner_source), unmodified, with `torch`
bound to tinygrad_nv: they run, and give PyTorch's numbers where PyTorch is installed."""

import contextlib
import io
import re

import numpy as np
import pytest

from tests.compat.harness import (
    FAKE_SIZES,
    assert_close,
    assert_same_grads,
    copy_state,
    fake_torchvision,
    numpy,
    pytorch_default_device,  # noqa: F401  (a fixture, used below)
    run,
    seeded_torch,  # noqa: F401  (an autouse fixture)
)

POLY = "pytorch_tutorials/polynomial_custom_function.py"
NN = "pytorch_tutorials/neural_networks_tutorial.py"
QUICK = "pytorch_tutorials/quickstart_tutorial.py"


# the programs choose torch.device("cpu"): run them where PyTorch's default device is
pytestmark = pytest.mark.usefixtures("pytorch_default_device")

def floats(text: str, pattern: str) -> list[float]:
    return [float(x) for x in re.findall(pattern, text)]


def test_custom_autograd_function_tutorial_trains_as_in_pytorch():
    """A ctx-style autograd.Function (LegendrePolynomial3) inside 2000 steps of gradient
    descent; the weights start from constants, so every printed loss can be compared."""
    _, out = run(POLY, main=True)
    losses = floats(out, r"(?m)^\d+ (\S+)$")
    assert len(losses) == 20 and losses[-1] < 9.0 < losses[0] / 20  # 210 -> 8.94
    result = r"(?m)^Result: .*$"
    number = r"[-+]?\d+\.\d+(?:e-?\d+)?"
    a, b, c, d = floats(re.search(result, out).group(), number)
    assert abs(a) + abs(c) < 1e-8 and b == pytest.approx(-2.2085, abs=1e-3)
    pytest.importorskip("torch")
    _, theirs = run(POLY, "torch", main=True)
    np.testing.assert_allclose(losses, floats(theirs, r"(?m)^\d+ (\S+)$"), rtol=2e-6)
    _, tb, _, td = floats(re.search(result, theirs).group(), number)
    assert (b, d) == pytest.approx((tb, td), rel=1e-6)


def test_neural_networks_tutorial_runs_and_matches_pytorch():
    """LeNet on a random 32x32 input: print(net), sizes, backward with a given gradient, an
    MSE loss, the grad_fn chain and conv1's bias gradient."""
    ours, out = run(NN, main=True)
    assert "(conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))" in out
    assert "(fc1): Linear(in_features=400, out_features=120, bias=True)" in out
    assert "conv1.bias.grad before backward\nNone\n" in out
    assert ours.net.conv1.bias.grad.shape == (6,)
    torch = pytest.importorskip("torch")
    theirs, their_out = run(NN, "torch", main=True)
    net_lines = lambda text: text.split("\n10\n")[0]  # noqa: E731  (the repr of Net)
    assert net_lines(out) == net_lines(their_out)
    copy_state(theirs.net, ours.net)
    x, target = ours.torch.tensor(numpy(theirs.input)), ours.torch.tensor(numpy(theirs.target))
    ours.net.zero_grad()
    theirs.net.zero_grad()
    loss = ours.criterion(ours.net(x), target)  # the tutorial's own objects, same values
    their_loss = theirs.criterion(theirs.net(theirs.input), theirs.target)
    loss.backward()
    their_loss.backward()
    assert_close(loss, their_loss, rtol=1e-5)
    assert_same_grads(ours.net, theirs.net, rtol=1e-4, atol=1e-7)
    assert torch.is_tensor(theirs.net.conv1.bias.grad)


@pytest.fixture
def small_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tutorial writes model.pth where it runs
    monkeypatch.setitem(FAKE_SIZES, "train", 128)
    monkeypatch.setitem(FAKE_SIZES, "test", 64)


def test_quickstart_trains_saves_loads_and_predicts(small_fashion_mnist, tmp_path):
    """The whole quickstart: FashionMNIST (synthetic, through torchvision's dataset class),
    DataLoader, an MLP, 5 epochs of SGD, torch.save/torch.load(weights_only=True), a
    prediction."""
    ours, out = run(QUICK, main=True, fakes=[fake_torchvision])
    assert out.count("Test Error") == 5 and "Done!" in out
    assert re.search(r"Shape of y: (tinygrad_nv|torch)\.Size\(\[64\]\) (torch\.)?int64", out)
    assert (tmp_path / "model.pth").is_file()
    assert re.search(r'Predicted: "[\w/ -]+", Actual: "[\w/ -]+"', out)
    losses = floats(out, r"Avg loss: (\S+)")
    assert losses[-1] < losses[0]  # 5 epochs of SGD at lr 1e-3 move it a little


def test_quickstart_train_and_test_give_pytorch_numbers(small_fashion_mnist):
    """The tutorial's own train() and test() on the same data from the same weights: every
    printed loss and accuracy, and the weights after an epoch, agree with PyTorch's."""
    pytest.importorskip("torch")
    ours, _ = run(QUICK, main=True, fakes=[fake_torchvision])
    theirs, _ = run(QUICK, "torch", main=True, fakes=[fake_torchvision])
    outputs = []
    copy_state(theirs.model, ours.model)
    for m in (ours, theirs):
        buffer = io.StringIO()
        optimizer = m.torch.optim.SGD(m.model.parameters(), lr=1e-2)
        with contextlib.redirect_stdout(buffer):
            for _ in range(2):
                m.train(m.train_dataloader, m.model, m.loss_fn, optimizer)
                m.test(m.test_dataloader, m.model, m.loss_fn)
        outputs.append(buffer.getvalue())
    assert outputs[0].count("Avg loss") == 2
    np.testing.assert_allclose(floats(outputs[0], r"(\d+\.\d+)"),
                               floats(outputs[1], r"(\d+\.\d+)"), rtol=1e-5)
    for (name, p), (_, q) in zip(ours.model.named_parameters(), theirs.model.named_parameters(),
                                 strict=True):
        assert_close(p, q, rtol=1e-5, atol=1e-6, what=name)
