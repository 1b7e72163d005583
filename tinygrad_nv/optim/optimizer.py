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

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import enable_grad
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.jit.state import guard

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: subclasses give their defaults, `check(group)` and `update(p, grad, state,
    group)`, which changes `p._data` in place (never recording a graph). `step_group` calls
    `update` once per parameter; a multi-tensor (one launch per group) version replaces it.

    Low-precision (float16/bfloat16) parameters: as PyTorch's optimizers, the state is kept in
    the parameter's dtype and the update computed in float32 and rounded, unless the group
    sets `master_weights=True` (our option; PyTorch has no master copy): then a float32 copy
    of each such parameter ("master_param" in its state) and float32 state buffers take the
    update, and the parameter receives the copy rounded to its dtype (round to nearest even,
    no stochastic rounding).

    >>> opt = optim.AdamW([{"params": model.parameters(), "master_weights": True}], lr=1e-3)
    """

    def __init__(self, params: Params, defaults: dict[str, Any]):
        self.name = type(self).__name__
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            raise TypeError(f"{self.name}: params must be an iterable of Tensors or of dicts "
                            f"(parameter groups), got {type(params).__name__}")
        params = self._ordered(params)
        if not params:
            raise ValueError(f"{self.name}: got an empty parameter list")
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add parameters with their own hyper-parameters (the defaults fill in the rest).

        >>> opt.add_param_group({"params": head.parameters(), "lr": 1e-2})
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{self.name}.add_param_group: a parameter group is a dict with "
                            f"'params', got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self.name}.add_param_group: the group has no 'params' key "
                             f"(keys: {sorted(param_group)})")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else self._ordered(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self.name}: can only optimize Tensors, got "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self.name}: can't optimize a non-leaf Tensor (shape "
                                 f"{tuple(p.shape)}, the result of an operation); optimize the "
                                 "leaf it was computed from, or .detach().requires_grad_() it")
            if not dtypes.is_float(p.dtype):
                raise TypeError(f"{self.name}: can only optimize floating point Tensors, got "
                                f"one of dtype {p.dtype.name} and shape {tuple(p.shape)}; "
                                "convert it with .float() (an integer tensor never gets a "
                                "gradient)")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self.name}: a parameter group contains the same parameter "
                             "more than once")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError(f"{self.name}: some parameters appear in more than one parameter "
                             "group")
        group = {**self.defaults, **param_group, "params": params}
        self.check(group)
        self.param_groups.append(group)

    def _ordered(self, params: Iterable[Any]) -> list[Any]:
        if isinstance(params, set | frozenset):
            raise TypeError(f"{self.name}: parameters must be given in an ordered collection "
                            "(a list), not a set: the order of a set changes between runs")
        return list(params)

    def check(self, group: dict[str, Any]) -> None:
        """Raise ValueError for invalid hyper-parameters (subclasses extend)."""
        self._at_least(group, "lr", 0.0)

    def _at_least(self, group: dict[str, Any], name: str, low: float) -> None:
        if not group[name] >= low:
            raise ValueError(f"{self.name}: invalid {name}={group[name]!r} (must be >= {low})")

    def __repr__(self) -> str:
        """One block per parameter group with its options, as PyTorch prints them."""
        text = f"{self.name} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n" + "".join(
                f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params")
        return text + ")"

    @property
    def lr(self) -> float:
        """The first group's learning rate; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: to None (the default), or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none or p.grad is None else p.grad.zeros_like()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (the others, frozen or unused, are left
        alone); `closure` (re-evaluating the loss with backward) is called first if given,
        and its result returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        guard(self._holds, self.state, len(self.param_groups))  # (a jit recording's)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            swapped = self._masters_in(params) if group.get("master_weights") else []
            for backend in dict.fromkeys(p.backend for p in params):
                with backend.on_device():  # the update's array work (maximize's negation, ...)
                    self.step_group(group, [p for p in params if p.backend is backend])
            for p, low, grad in swapped:  # the parameter gets its float32 master, rounded
                with p.backend.on_device():
                    low[...] = p._data
                p._data, p._grad = low, grad
            for p in params:  # changed in place: a graph that saved them must not reuse them
                p._bump_version()
        return loss

    def _holds(self, state: dict, groups: int) -> bool:
        """Whether this optimizer still has the state and groups a jit recording of its step
        saw (load_state_dict and add_param_group replace them: the step records again)."""
        return self.state is state and len(self.param_groups) == groups

    def _masters_in(self, params: list[Tensor]) -> list[tuple]:
        """Put the float32 master copy (and a float32 gradient) of each low-precision
        parameter in its place for the update; returns what to restore."""
        swapped = []
        for p in params:
            if p.dtype.itemsize >= 4:
                continue
            state = self.state.setdefault(p, {})
            if "master_param" not in state:
                state["master_param"] = p.detach().float()
            swapped.append((p, p._data, p._grad))
            p._data, p._grad = state["master_param"]._data, p._grad.float()
        return swapped

    def step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Update `params` (those of `group` that have a gradient), one at a time."""
        for p in params:
            grad = -p.grad._data if group.get("maximize") else p.grad._data
            self.update(p, grad, self.state.setdefault(p, {}), group)

    def update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]
               ) -> None:
        """Apply the update rule to one parameter in place (`grad`: its gradient array,
        already negated for maximize=True)."""
        raise NotImplementedError

    @staticmethod
    def buffer(state: dict[str, Any], name: str, p: Tensor) -> Any:
        """The array of state buffer `name` (zeros like p on first use)."""
        if name not in state:
            state[name] = p.zeros_like()
        return state[name]._data

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        index = {id(p): i for i, p in enumerate(self._params())}
        return {
            "state": {index[id(p)]: dict(s) for p, s in self.state.items() if s},
            "param_groups": [{**{k: v for k, v in g.items() if k != "params"},
                              "params": [index[id(p)] for p in g["params"]]}
                             for g in self.param_groups],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by state_dict (buffers are copied onto
        each parameter's device and dtype; step counts may come back as 0-d arrays)."""
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{self.name}.load_state_dict: the saved parameter groups have "
                             f"sizes {[len(g['params']) for g in groups]}, this optimizer's "
                             f"{[len(g['params']) for g in self.param_groups]}")
        for own, saved in zip(self.param_groups, groups, strict=True):
            own.update({k: v for k, v in saved.items() if k != "params"})
        params = self._params()
        masters = {id(p) for g in self.param_groups if g.get("master_weights")
                   for p in g["params"]}
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = params[int(i)]
            dtype = dtypes.float32 if id(p) in masters else p.dtype  # master state: float32
            self.state[p] = {k: int(v) if k == "step" else _restored(v, p, dtype)
                             for k, v in saved.items()}

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]


def _restored(value: Any, p: Tensor, dtype: Any) -> Any:
    """A saved state value of parameter p: buffers (and lists of them) copied onto p's device
    in `dtype`, plain numbers and None (ASGD's eta, LBFGS's history scalars) as they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_restored(v, p, dtype) for v in value]
    return Tensor(value, device=p.device, dtype=dtype).clone().detach()
