"""Run unmodified PyTorch programs written by others with `torch` bound to tinygrad_nv (or to
PyTorch itself), to compare the two.

The programs (tests/compat/programs/, listed in PROGRAMS with their origin, licence and
SHA-256) are third-party code and are not committed: see tests/compat/README.md. A test whose
program is absent skips; a program whose bytes differ from the recorded ones fails (it must be
the file as published). Only the data reaches a program from outside, through its own hooks
(command-line options, constructor arguments, a dataset object, `torchvision`'s datasets made
of synthetic images by `fake_torchvision`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.util
import io
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent / "programs"


@dataclass(frozen=True)
class Program:
    """One published file: where it comes from and the SHA-256 of its bytes."""

    repo: str
    commit: str
    path: str
    local: str
    sha256: str
    licence: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}/blob/{self.commit}/{self.path}"


_EX, _EX_C = "pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8"
_TUT = "pytorch/tutorials"
_MG, _MG_C = "karpathy/minGPT", "37baab71b9abea1b76ab957409a1cc2fbfba8a26"
_BSD, _MIT = "BSD-3-Clause", "MIT"

PROGRAMS: dict[str, Program] = {p.local: p for p in [
    Program(_EX, _EX_C, "mnist/main.py", "pytorch_examples/mnist/main.py",
            "30a3359d1911d2d859dd090ce20be7ed132a33f508dc389f40366010b3e9ecc8", _BSD),
    Program(_EX, _EX_C, "word_language_model/main.py",
            "pytorch_examples/word_language_model/main.py",
            "391de12bb7c6e07dbb105d47d017632bf80c01d2e5b25adbf83da9cdcdd5a862", _BSD),
    Program(_EX, _EX_C, "word_language_model/model.py",
            "pytorch_examples/word_language_model/model.py",
            "e4451a33e9b16953004bc639d736d14f42a2b21f2939ccabe4cff10d3c40b74c", _BSD),
    Program(_EX, _EX_C, "word_language_model/data.py",
            "pytorch_examples/word_language_model/data.py",
            "15784815a6bd18e9b25eadf6ae049915f88d4fb8faebeba9d83ae6ec8e19883d", _BSD),
    Program(_EX, _EX_C, "time_sequence_prediction/train.py",
            "pytorch_examples/time_sequence_prediction/train.py",
            "3a5d6603cecf7bbf76f96a515dc6c9377849adeefe783edaf6f661bd02e80330", _BSD),
    Program(_EX, _EX_C, "vae/main.py", "pytorch_examples/vae/main.py",
            "366116e8252ac68ef1f180cce0b3c017f5a957595d863c8d4904210a80cdab6d", _BSD),
    Program(_EX, _EX_C, "regression/main.py", "pytorch_examples/regression/main.py",
            "87ba43405ca6df6ef1e24e6ee85bfb0cfff95df3bbaf5794d4662308184a90a0", _BSD),
    Program(_EX, _EX_C, "dcgan/main.py", "pytorch_examples/dcgan/main.py",
            "4f6aef3527822a32bcca366e336e941a67d04081f66f568cc24a0a642b5f9555", _BSD),
    Program(_EX, _EX_C, "mnist_rnn/main.py", "pytorch_examples/mnist_rnn/main.py",
            "ebd462cfda1fc8ace2160e8a99e6f97125802e645f924c049ed5e63a0666b019", _BSD),
    Program(_EX, _EX_C, "mnist_forward_forward/main.py",
            "pytorch_examples/mnist_forward_forward/main.py",
            "564b744cfaaf3b9cf5107526753cc098120aada8c187c852fa5fe0f57ef45341", _BSD),
    Program(_EX, _EX_C, "super_resolution/model.py",
            "pytorch_examples/super_resolution/model.py",
            "02edbd87555c4a99136572cc03e27a3b73ecef09127fb00c8ac2e3ac1f6c289c", _BSD),
    Program(_EX, _EX_C, "fast_neural_style/neural_style/transformer_net.py",
            "pytorch_examples/fast_neural_style/neural_style/transformer_net.py",
            "cd280fd7b34895819a8d89ca4867b806c52d46b7311cf8c01cf865b3d77cf052", _BSD),
    Program(_TUT, "afcd669d56554c2ef46f2da92edbfaf8c54043ec",
            "beginner_source/basics/quickstart_tutorial.py",
            "pytorch_tutorials/quickstart_tutorial.py",
            "73d1ca9b46151693395a01537bc088b89036057d6a04405f76ebeb4816f2f2f9", _BSD),
    Program(_TUT, "7a017bba463ba73cfd9d48aabc7e05827a680906",
            "beginner_source/blitz/neural_networks_tutorial.py",
            "pytorch_tutorials/neural_networks_tutorial.py",
            "478e65e6a299e67c2c21d88e10c46a593f972de8a91186591dd04f6f31e4a9a2", _BSD),
    Program(_TUT, "c53e7d4efc0e39e455c531d21ec7db28ba220214",
            "beginner_source/examples_autograd/polynomial_custom_function.py",
            "pytorch_tutorials/polynomial_custom_function.py",
            "c53204001d626017650d2aa2425d2f6f201538a000e38f571985b049d8d82bd2", _BSD),
    Program(_MG, _MG_C, "mingpt/__init__.py", "mingpt/mingpt/__init__.py",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", _MIT),
    Program(_MG, _MG_C, "mingpt/model.py", "mingpt/mingpt/model.py",
            "3586d4a957722864f7a790689a094478d3ee0b7de34d7456cb635923e4779576", _MIT),
    Program(_MG, _MG_C, "mingpt/utils.py", "mingpt/mingpt/utils.py",
            "243dd4f91c68ea45421bcd4a82fa7fe9e0ee01bf90d52b5feefdb777db6e0568", _MIT),
    Program(_MG, _MG_C, "mingpt/trainer.py", "mingpt/mingpt/trainer.py",
            "7e28e58add6f998e7f2ccf3684a4a22a071ababd484a0f59030349dad4d36878", _MIT),
    Program("karpathy/nanoGPT", "3adf61e154c3fe3fca428ad6bc3818b27a3b8291", "model.py",
            "nanogpt/model.py",
            "7c01703240dbec5d554527dc666e35b3df8391d0b117fddc07afcf325a21d11c", _MIT),
    Program("karpathy/makemore", "988aa59e4d8fefa526d06f3b453ad116258398d4", "makemore.py",
            "makemore/makemore.py",
            "49b281f40d2c4897737cb90f21f55d4cbbe7d10329212caab72a9054ba17be96", _MIT),
]}


def program_file(local: str) -> Path:
    """The path of a program file, after checking that it is the published file; skips the
    calling test when the programs are not there."""
    program = PROGRAMS[local]
    path = ROOT / local
    if not path.is_file():
        pytest.skip(f"third-party program {local} ({program.url}) is not in {ROOT}: see "
                    f"tests/compat/README.md")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == program.sha256, f"{path} is not the published file (sha256 {digest})"
    return path


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `torch` and `torch.x.y` to the already imported `tinygrad_nv` modules (the same
    objects: one class Tensor, one nn.Module), however deep the program imports."""

    def __init__(self, target: str) -> None:
        self.target = target

    def _real(self, fullname: str) -> str:
        return self.target + fullname[len("torch"):]

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        real = self._real(fullname)
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as e:
            if e.name == real:  # the program asked for a torch module we do not have
                return None
            raise
        return importlib.util.spec_from_loader(fullname, self,
                                               is_package=hasattr(module, "__path__"))

    def create_module(self, spec):
        module = importlib.import_module(self._real(spec.name))
        self._spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        module.__spec__ = self._spec  # importlib set the alias's spec; keep the module's own


def _is_torch(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


@contextlib.contextmanager
def bound(torch_name: str, fakes: Sequence[Callable] = ()) -> Iterator[types.ModuleType]:
    """While inside, `import torch` (and `torch.nn`, `torch.utils.data`, ...) gives the
    package `torch_name` ("tinygrad_nv" or "torch"), and each fake (a function of the torch
    module returning {module name: module}, e.g. `fake_torchvision`) is importable. On exit
    sys.modules is as before."""
    torch = importlib.import_module(torch_name)
    saved = {name: module for name, module in sys.modules.items() if _is_torch(name)}
    finder = None
    if torch_name != "torch":
        for name in saved:
            del sys.modules[name]
        sys.modules["torch"] = torch
        finder = _Alias(torch_name)
        sys.meta_path.insert(0, finder)
    added = {}
    for fake in fakes:
        added.update(fake(torch))
    hidden = {name: sys.modules[name] for name in added if name in sys.modules}
    sys.modules.update(added)
    try:
        yield torch
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
            for name in [n for n in sys.modules if _is_torch(n)]:
                del sys.modules[name]
            sys.modules.update(saved)
        for name in added:
            sys.modules.pop(name, None)
        sys.modules.update(hidden)


_count = [0]


def load(local: str | Path, torch_name: str = "tinygrad_nv", *, main: bool = False,
         argv: Sequence[str] = (), fakes: Sequence[Callable] = (),
         module: types.ModuleType | None = None) -> types.ModuleType:
    """Execute the published program `local` with `torch` bound to `torch_name` and return it
    as a module. `main=True` runs it as a script (`__name__ == "__main__"`, `sys.argv` set
    from `argv`); else it is imported. Modules the program imports from its own folder
    (`import data`, `from mingpt.utils import CfgNode`) are loaded fresh for this binding and
    forgotten afterwards. Pass `module` to keep the namespace of a program that raises. A
    Path (not a key of PROGRAMS) loads any file, unchecked."""
    path = program_file(local) if isinstance(local, str) else Path(local)
    top = path.parent
    while (top / "__init__.py").exists():  # a package's file: its imports start above it
        top = top.parent
    for sibling in PROGRAMS:  # what it may import from its folder is checked too
        if (ROOT / sibling).parent in (path.parent, top) or (ROOT / sibling).is_relative_to(
                path.parent):
            program_file(sibling)
    folder = str(top)
    _count[0] += 1
    name = "__main__" if main else f"compat_{torch_name}_{path.stem}_{_count[0]}"
    module = module or types.ModuleType(name)
    module.__file__ = str(path)
    before = set(sys.modules)
    old_main, old_argv = sys.modules.get(name), sys.argv
    sys.path.insert(0, folder)
    sys.modules[name] = module
    sys.argv = [str(path), *argv]
    try:
        with bound(torch_name, fakes):
            with warnings.catch_warnings():  # e.g. a docstring's invalid escape "\s"
                warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
                code = compile(path.read_bytes(), str(path), "exec")
            exec(code, module.__dict__)
    finally:
        sys.argv = old_argv
        sys.path.remove(folder)
        for other in set(sys.modules) - before - {name}:
            if str(getattr(sys.modules[other], "__file__", "") or "").startswith(folder):
                del sys.modules[other]
        if main:
            if old_main is None:
                del sys.modules[name]
            else:
                sys.modules[name] = old_main
    return module


def run(local: str, torch_name: str = "tinygrad_nv", **kwargs) -> tuple[types.ModuleType, str]:
    """`load` with the program's standard output captured: (module, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module = load(local, torch_name, **kwargs)
    return module, out.getvalue()


def numpy(t) -> np.ndarray:
    """A tinygrad_nv or PyTorch tensor as a NumPy array."""
    if hasattr(t, "detach"):
        t = t.detach()
    return np.array(t.numpy() if hasattr(t, "numpy") else t)


def copy_state(src, dst) -> None:
    """Load the state dict of module `src` (either framework) into `dst` (the other)."""
    ref = next(iter(dst.state_dict().values()))
    tensor = type(ref) if hasattr(ref, "numpy") else None
    state = {k: numpy(v) for k, v in src.state_dict().items()}
    make = sys.modules[tensor.__module__.split(".")[0]].tensor
    dst.load_state_dict({k: make(v) for k, v in state.items()})


def assert_close(ours, theirs, rtol: float = 1e-5, atol: float = 1e-6, what: str = "") -> None:
    np.testing.assert_allclose(numpy(ours), numpy(theirs), rtol=rtol, atol=atol, err_msg=what)


def assert_same_grads(ours, theirs, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Every parameter gradient of module `ours` equals that of `theirs`, by name."""
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        if p.grad is None:
            assert mine[name].grad is None or not numpy(mine[name].grad).any(), name
            continue
        assert_close(mine[name].grad, p.grad, rtol, atol, what=name)


# ---------------------------------------------------------------------------------------------
# Stand-ins for third-party packages the programs import (data and logging only)


def _images(name: str, train: bool, n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    seed = int.from_bytes(hashlib.sha256(f"{name}{train}".encode()).digest()[:4], "little")
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (n, *shape)).astype(np.uint8), rng.randint(0, 10, n)


FAKE_SIZES = {"train": 64, "test": 32}


def fake_torchvision(torch) -> dict[str, types.ModuleType]:
    """A `torchvision` whose datasets (MNIST, FashionMNIST, FakeData) are small, seeded,
    synthetic image sets (FAKE_SIZES images, uint8 HxW(xC) arrays as PIL would give), with
    the transforms and `utils.save_image` those programs use, built on `torch`."""

    class _Images(torch.utils.data.Dataset):
        def __init__(self, root=None, train=True, download=False, transform=None,
                     target_transform=None):
            n = FAKE_SIZES["train" if train else "test"]
            self.data, self.targets = _images(type(self).__name__, train, n, (28, 28))
            self.transform, self.target_transform = transform, target_transform

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            x, y = self.data[i], int(self.targets[i])
            x = self.transform(x) if self.transform else x
            return x, (self.target_transform(y) if self.target_transform else y)

    class MNIST(_Images):
        pass

    class FashionMNIST(_Images):
        pass

    class FakeData(_Images):
        def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                     target_transform=None, random_offset=0):
            c, h, w = image_size
            n = FAKE_SIZES["train"]
            self.data, self.targets = _images("FakeData", True, n, (h, w, c))
            self.transform, self.target_transform = transform, target_transform

    class ToTensor:
        def __call__(self, pic):
            a = np.asarray(pic, dtype=np.float32) / 255.0
            a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
            return torch.tensor(np.ascontiguousarray(a))

    class Normalize:
        def __init__(self, mean, std):
            self.mean, self.std = mean, std

        def __call__(self, t):
            mean = torch.tensor(np.array(self.mean, np.float32).reshape(-1, 1, 1))
            std = torch.tensor(np.array(self.std, np.float32).reshape(-1, 1, 1))
            return (t - mean) / std

    class Lambda:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, x):
            return self.fn(x)

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, x):
            for t in self.transforms:
                x = t(x)
            return x

    saved_images = []

    def save_image(tensor, fp, nrow=8, **kwargs):
        saved_images.append((tuple(tensor.shape), str(fp)))

    tv = types.ModuleType("torchvision")
    datasets = types.ModuleType("torchvision.datasets")
    transforms = types.ModuleType("torchvision.transforms")
    utils = types.ModuleType("torchvision.utils")
    datasets.MNIST, datasets.FashionMNIST, datasets.FakeData = MNIST, FashionMNIST, FakeData
    transforms.ToTensor, transforms.Normalize, transforms.Compose = ToTensor, Normalize, Compose
    transforms.Lambda = Lambda
    utils.save_image, utils.saved_images = save_image, saved_images
    tv.datasets, tv.transforms, tv.utils = datasets, transforms, utils
    return {"torchvision": tv, "torchvision.datasets": datasets,
            "torchvision.transforms": transforms, "torchvision.utils": utils}


def fake_tensorboard(torch) -> dict[str, types.ModuleType]:
    """`torch.utils.tensorboard.SummaryWriter` recording its scalars in a list (the real one
    needs the tensorboard package)."""

    class SummaryWriter:
        scalars: list = []

        def __init__(self, log_dir=None, **kwargs):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step=None, **kwargs):
            SummaryWriter.scalars.append((tag, float(value), step))

        def flush(self):
            pass

        def close(self):
            pass

    tb = types.ModuleType("torch.utils.tensorboard")
    tb.SummaryWriter = SummaryWriter
    return {"torch.utils.tensorboard": tb}


def captured(fn: Callable, *args, **kwargs) -> tuple[object, str]:
    """fn(*args, **kwargs) with its standard output captured: (result, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def call_main(module: types.ModuleType, argv: Sequence[str], fakes: Sequence[Callable] = ()
              ) -> str:
    """The program's own `main()` with command-line options `argv` (its torch binding and
    fakes importable again, for imports inside main); returns what it printed."""
    old = sys.argv
    sys.argv = [module.__file__, *argv]
    try:
        with bound(module.torch.__name__, fakes):
            return captured(module.main)[1]
    finally:
        sys.argv = old


def no_dropout(model) -> None:
    """Dropout probability 0 on a model's dropout layers (their masks are random draws, which
    differ between the frameworks): an attribute of the instance, not the program's code."""
    for m in model.modules():
        if type(m).__name__.startswith("Dropout"):
            m.p = 0.0


@pytest.fixture(autouse=True)
def seeded_torch():
    """PyTorch's generator seeded as ours is (tests/conftest.py): the weights that PyTorch
    initialises, and so every compared number, are the same from run to run."""
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(0)


@pytest.fixture
def pytorch_default_device():
    """The CPU as the default device while a test runs (PyTorch's default): these programs
    pick torch.device("cpu") where no accelerator is present and move their data there (or
    make it with torch.from_numpy), while their models are built on the default device,
    which TINYGRAD_NV_DEVICE may set to emu."""
    from tinygrad_nv.backend import default_device, set_default_device
    saved = default_device()
    set_default_device("cpu")
    yield
    set_default_device(saved)
