"""The harness that runs PyTorch programs with `torch` bound to tinygrad_nv: the binding gives
the very tinygrad_nv modules at every depth, is undone afterwards, and a program must be the
published file. Runs without the third-party programs (these are small programs of ours)."""

import hashlib
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_nv
from tests.compat import harness

PROGRAM = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.data
from torch.utils.data.dataloader import DataLoader
from torch.optim.lr_scheduler import StepLR
import helper
from torchvision import datasets, transforms

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

dataset = datasets.MNIST("data", train=False, transform=transforms.ToTensor())
loader = DataLoader(dataset, batch_size=4)
if __name__ == "__main__":
    import sys
    print("argv", sys.argv[1:], helper.VALUE, len(dataset))
"""


@pytest.fixture
def program(tmp_path):
    (tmp_path / "helper.py").write_text("import torch\nVALUE = torch.__name__\n")
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(PROGRAM))
    return path


def test_torch_is_tinygrad_nv_at_every_depth_and_restored_after(program):
    before = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("torch", "helper")}
    finders = list(sys.meta_path)
    module, out = harness.run(program, main=True, argv=["--x", "1"],
                              fakes=[harness.fake_torchvision])
    assert out.strip() == "argv ['--x', '1'] tinygrad_nv 32"
    assert module.torch is tinygrad_nv and module.nn is tinygrad_nv.nn
    assert module.F is tinygrad_nv.nn.functional and module.StepLR is \
        tinygrad_nv.optim.lr_scheduler.StepLR
    assert module.DataLoader is tinygrad_nv.utils.data.DataLoader
    assert isinstance(module.Net(), tinygrad_nv.nn.Module)
    x, y = next(iter(module.loader))
    assert isinstance(x, tinygrad_nv.Tensor) and x.shape == (4, 1, 28, 28)
    assert 0.0 <= float(x.min().item()) and float(x.max().item()) <= 1.0
    after = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("torch", "helper")}
    assert after == before and sys.meta_path == finders
    assert "torchvision" not in sys.modules and "tensorboard" not in dir(tinygrad_nv.utils)
    assert tinygrad_nv.nn.__spec__.name == "tinygrad_nv.nn"


def test_the_same_program_bound_to_pytorch(program):
    torch = pytest.importorskip("torch")
    module, _ = harness.run(program, "torch", main=True, fakes=[harness.fake_torchvision])
    assert module.torch is torch and isinstance(module.Net(), torch.nn.Module)
    ours, _ = harness.run(program, main=True, fakes=[harness.fake_torchvision])
    a, b = ours.Net(), module.Net()
    harness.copy_state(b, a)
    x = np.random.RandomState(0).randn(3, 4).astype(np.float32)
    harness.assert_close(a(tinygrad_nv.tensor(x)), b(torch.tensor(x)))
    xs = [next(iter(m.loader))[0] for m in (ours, module)]
    harness.assert_close(*xs, rtol=0, atol=0)  # the same synthetic images in both worlds


def test_a_program_raising_keeps_its_namespace_and_restores_modules(tmp_path):
    path = tmp_path / "fails.py"
    path.write_text("import torch.nn\nlayer = torch.nn.Linear(2, 2)\nraise KeyError('x')\n")
    module = harness.types.ModuleType("__main__")
    with pytest.raises(KeyError):
        harness.load(path, main=True, module=module)
    assert isinstance(module.layer, tinygrad_nv.nn.Linear)
    assert "torch" not in sys.modules or sys.modules["torch"] is not tinygrad_nv


def test_a_missing_torch_module_is_a_module_not_found_error(tmp_path):
    path = tmp_path / "missing.py"
    path.write_text("import torch.no_such_module\n")
    with pytest.raises(ModuleNotFoundError, match="torch.no_such_module"):
        harness.load(path)


def test_programs_must_be_the_published_files(tmp_path, monkeypatch):
    key = "nanogpt/model.py"
    monkeypatch.setattr(harness, "ROOT", tmp_path)
    with pytest.raises(pytest.skip.Exception, match="is not in"):
        harness.program_file(key)
    (tmp_path / "nanogpt").mkdir()
    (tmp_path / key).write_text("# edited\n")
    with pytest.raises(AssertionError, match="not the published file"):
        harness.program_file(key)


def test_the_manifest_is_well_formed():
    for local, p in harness.PROGRAMS.items():
        assert p.local == local and len(p.commit) == 40 and len(p.sha256) == 64
        assert p.licence in ("BSD-3-Clause", "MIT") and p.url.startswith("https://github.com/")
    empty = hashlib.sha256(b"").hexdigest()
    assert harness.PROGRAMS["mingpt/mingpt/__init__.py"].sha256 == empty
