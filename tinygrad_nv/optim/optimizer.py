"""`Optimizer`: parameter groups, zero_grad, step, and a state_dict that saves as plain data.

state_dict() layout (PyTorch's, so it flattens into safetensors keys like
`state.0.exp_avg`):

    {"state": {param_index: {"step": int, "<buffer>": Tensor, ...}, ...},
     "param_groups": [{"lr": float, <hyper-parameters>..., "params": [param_index, ...]}]}

param_index counts the parameters over all groups in order. The Tensors are the optimizer's
own buffers (not copies, as in PyTorch); load_state_dict copies them in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tinygrad_nv.autograd import enable_grad
from tinygrad_nv.tensor import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: subclasses give their defaults, `check(group)` and `update(p, grad, state,
    group)`, which changes `p.data` in place (never recording a graph)."""

    def __init__(self, params: Params, defaults: dict[str, Any]):
        self.name = type(self).__name__
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            raise TypeError(f"{self.name}: params must be an iterable of Tensors or of dicts "
                            f"(parameter groups), got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{self.name}: got an empty parameter list")
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters with their own hyper-parameters (defaults fill the rest)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                what = (f"a tensor of shape {p.shape} with requires_grad={p.requires_grad}, "
                        f"leaf={p.is_leaf}") if isinstance(p, Tensor) else type(p).__name__
                raise TypeError(f"{self.name}: can only optimize leaf Tensors that require "
                                f"grad, got {what}")
            if id(p) in existing:
                raise ValueError(f"{self.name}: a parameter of shape {p.shape} appears more "
                                 "than once in the parameter groups")
            existing.add(id(p))
        group = {**self.defaults, **group, "params": params}
        self.check(group)
        self.param_groups.append(group)

    def check(self, group: dict[str, Any]) -> None:
        """Raise ValueError for invalid hyper-parameters (subclasses extend)."""
        self._at_least(group, "lr", 0.0)

    def _at_least(self, group: dict[str, Any], name: str, low: float) -> None:
        if not group[name] >= low:
            raise ValueError(f"{self.name}: invalid {name}={group[name]!r} (must be >= {low})")

    @property
    def lr(self) -> float:
        """The first group's learning rate; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none or p.grad is None else p.grad.zeros_like()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; `closure` (re-evaluating the loss with
        backward) is called first if given, and its result returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad.data, self.state.setdefault(p, {}), group)
        return loss

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        raise NotImplementedError

    @staticmethod
    def buffer(state: dict[str, Any], name: str, p: Tensor) -> Any:
        """The array of state buffer `name` (zeros like p on first use)."""
        if name not in state:
            state[name] = p.zeros_like()
        return state[name].data

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        index = {id(p): i for i, p in enumerate(self._params())}
        return {
            "state": {index[id(p)]: dict(s) for p, s in self.state.items()},
            "param_groups": [{**{k: v for k, v in g.items() if k != "params"},
                              "params": [index[id(p)] for p in g["params"]]}
                             for g in self.param_groups],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and buffers saved by state_dict (buffers are copied onto
        each parameter's device and dtype; integer counters may come back as 0-d arrays)."""
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{self.name}.load_state_dict: the saved parameter groups have "
                             f"sizes {[len(g['params']) for g in groups]}, this optimizer's "
                             f"{[len(g['params']) for g in self.param_groups]}")
        for own, saved in zip(self.param_groups, groups, strict=True):
            own.update({k: v for k, v in saved.items() if k != "params"})
        params = self._params()
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: int(v) if k == "step" else
                             Tensor(v, device=p.device, dtype=p.dtype).clone().detach()
                             for k, v in saved.items()}

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]
