"""`sys.modules["torch"] = tinygrad_nv`, then `import torch.nn` / `from torch.utils.data import
DataLoader`: Python would load tinygrad_nv's submodules a second time under the names
`torch.*` (new module objects, the package attributes replaced by them). This finder, first on
sys.meta_path while `torch` is bound to tinygrad_nv (and inert otherwise), answers `torch.x.y`
with the already imported `tinygrad_nv.x.y` itself."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any


class TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `torch.<sub>` to `tinygrad_nv.<sub>` while sys.modules["torch"] is
    tinygrad_nv; a name tinygrad_nv lacks raises ModuleNotFoundError for `torch.<sub>`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("torch.") or \
                getattr(sys.modules.get("torch"), "__name__", None) != "tinygrad_nv":
            return None
        real = "tinygrad_nv" + fullname[len("torch"):]
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as e:
            if e.name == real:
                return None
            raise
        spec = importlib.util.spec_from_loader(fullname, self,
                                               is_package=hasattr(module, "__path__"))
        spec.loader_state = module
        return spec

    def create_module(self, spec: Any) -> Any:
        module = spec.loader_state
        spec.loader_state = module.__spec__  # importlib sets the alias's spec on it: undone below
        return module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = module.__spec__.loader_state


def install() -> None:
    """Put one TorchAlias first on sys.meta_path (once)."""
    if not any(isinstance(f, TorchAlias) for f in sys.meta_path):
        sys.meta_path.insert(0, TorchAlias())
