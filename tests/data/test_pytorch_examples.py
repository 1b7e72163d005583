"""The DataLoader usage of PyTorch's official examples runs unchanged with `torch` bound to
tinygrad_nv. `mnist_style` follows the shape of pytorch/examples `mnist/main.py` (BSD-3-Clause;
written here, not copied): its train/test kwargs dicts with, on an accelerator,
`{'num_workers': 1, 'pin_memory': True, 'shuffle': True}`, `DataLoader(dataset, **kwargs)`,
`enumerate(train_loader)`, `data.to(device)`, `len(train_loader.dataset)`, `len(train_loader)`
and its progress line; synthetic 1x28x28 images stand in for torchvision's MNIST. It runs with
tinygrad_nv and, where installed, with PyTorch, and the two must agree."""

import numpy as np
import pytest

import tinygrad_nv

pytestmark = pytest.mark.usefixtures("deadline")


class FakeMNIST:
    """What torchvision's MNIST with ToTensor() and Normalize((0.1307,), (0.3081,)) gives:
    (a 1x28x28 float32 tensor, an int label); label k lights rows 2k to 2k + 2."""

    def __init__(self, tensor, n, seed):
        rng = np.random.default_rng(seed)
        self.tensor, self.targets = tensor, rng.integers(10, size=n)
        self.data = rng.random((n, 1, 28, 28), dtype=np.float32) * 0.2
        for image, k in zip(self.data, self.targets):
            image[0, 2 * k:2 * k + 3] += 0.8
        self.data = (self.data - 0.1307) / 0.3081

    def __getitem__(self, index):
        return self.tensor(self.data[index]), int(self.targets[index])

    def __len__(self):
        return len(self.data)


def mnist_style(torch, use_accel, epochs=2):
    """Train and test as the example does; the progress lines, the labels seen in training,
    the test accuracy and the first batch's shapes and dtypes."""
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    torch.manual_seed(1)
    device = torch.device("cpu")
    train_kwargs = {'batch_size': 64}
    test_kwargs = {'batch_size': 1000}
    if use_accel:
        accel_kwargs = {'num_workers': 1,
                        'pin_memory': True,
                        'shuffle': True}
        train_kwargs.update(accel_kwargs)
        test_kwargs.update(accel_kwargs)
    dataset1 = FakeMNIST(torch.tensor, 320, seed=0)
    dataset2 = FakeMNIST(torch.tensor, 100, seed=1)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    lines, seen, first = [], [], None
    for epoch in range(1, epochs + 1):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            first = first or (tuple(data.shape), str(data.dtype), str(target.dtype))
            optimizer.zero_grad()
            output = F.log_softmax(model(data), dim=1)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            seen += target.tolist()
            if batch_idx % 2 == 0:
                lines.append('Train Epoch: {} [{}/{} ({:.0f}%)]'.format(  # noqa: UP032
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader)))
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            pred = model(data).argmax(dim=1)
            correct += (pred == target).sum().item()
    return lines, sorted(seen), correct, first


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")  # no GPU here
@pytest.mark.parametrize("use_accel", [False, True], ids=["plain", "accel-kwargs"])
def test_mnist_example_data_loading_runs_unchanged(use_accel):
    lines, seen, correct, first = mnist_style(tinygrad_nv, use_accel)
    assert lines[:3] == ["Train Epoch: 1 [0/320 (0%)]", "Train Epoch: 1 [128/320 (40%)]",
                         "Train Epoch: 1 [256/320 (80%)]"]
    assert seen == sorted(FakeMNIST(np.asarray, 320, seed=0).targets.tolist() * 2)
    assert correct >= 90
    torch = pytest.importorskip("torch")
    theirs = mnist_style(torch, use_accel)
    assert (lines, seen) == theirs[:2] and theirs[2] >= 90
    assert first[0] == theirs[3][0] == (64, 1, 28, 28)
    assert [first[1].split(".")[-1], first[2].split(".")[-1]] == ["float32", "int64"]
    assert [theirs[3][1], theirs[3][2]] == ["torch.float32", "torch.int64"]
