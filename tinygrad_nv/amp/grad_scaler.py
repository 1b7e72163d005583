"""`GradScaler`: dynamic loss scaling for float16 training, as torch.amp.GradScaler.

The scale, its growth tracker and the found-inf flags live on the device. `unscale_` checks
and unscales all gradients of one (device, dtype) in one fused pass (`amp_unscale_multi`:
kernels/amp.cu on cuda/emu, NumPy on the CPU); `update` computes the next scale on the device.
The only host read is the one PyTorch makes too: `step` reads the flag to decide the skip.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tinygrad_nv import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.backend import cuda_unavailable_reason
from tinygrad_nv.dtype import dtypes

READY, UNSCALED, STEPPED = "ready", "unscaled", "stepped"


def _fresh_state() -> dict:
    return {"stage": READY, "found_inf_per_device": {}}


def _current(backend: Any) -> Any:
    """The context that makes `backend`'s device current (a no-op on one device)."""
    return contextlib.nullcontext() if backend.placement is None else backend.placement


class GradScaler:
    """Scales the loss so that float16 gradients do not underflow, unscales the gradients
    before the optimizer step, skips steps whose gradients hold inf/NaN and adapts the scale:
    times backoff_factor after such a step, times growth_factor after growth_interval
    steps without one (PyTorch's rules and defaults).

    >>> scaler = tinygrad_nv.amp.GradScaler("cuda")
    >>> scaler.scale(loss).backward()
    >>> scaler.step(optimizer)      # unscale_ (unless done), then step unless inf/NaN
    >>> scaler.update()
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if enabled and device.startswith("cuda"):
            if cuda_unavailable_reason() is not None:
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not "
                              "available.  Disabling.", stacklevel=2)
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("GradScaler: the growth factor must be > 1.0")
            if backoff_factor >= 1.0:
                raise ValueError("GradScaler: the backoff factor must be < 1.0")
            if not isinstance(growth_interval, int) or growth_interval <= 0:
                raise ValueError("GradScaler: growth_interval must be a positive int")
        self._init_scale, self._growth_factor = float(init_scale), float(growth_factor)
        self._backoff_factor, self._growth_interval = float(backoff_factor), growth_interval
        self._init_growth_tracker = 0
        self._scale: Tensor | None = None  # () float32 on the device, made on first use
        self._growth_tracker: Tensor | None = None  # () int32
        self._per_optimizer_states: defaultdict = defaultdict(_fresh_state)

    # ---- scaling the loss
    def scale(self, outputs: Any) -> Any:
        """outputs (a tensor or nested lists/tuples of them) times the scale, each in its
        own dtype (the product computed in float32)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init(outputs.device)
            scale = self._scale if self._scale.device == outputs.device else \
                self._scale.to(outputs.device)
            return (outputs * scale).cast(outputs.dtype)
        if isinstance(outputs, Iterable) and not isinstance(outputs, (str, bytes)):
            scaled = [self.scale(v) for v in outputs]
            return type(outputs)(scaled) if isinstance(outputs, (list, tuple)) else scaled
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _lazy_init(self, device: Any) -> None:
        self._scale = Tensor.full((), self._init_scale, dtype=dtypes.float32, device=device)
        self._growth_tracker = Tensor.full((), self._init_growth_tracker, dtype=dtypes.int32,
                                           device=device)

    def _check_scale_growth_tracker(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) " \
              "earlier in the iteration."
        if self._scale is None:
            raise RuntimeError(f"Attempted {funcname} but _scale is None.  {fix}")
        return self._scale, self._growth_tracker

    # ---- unscaling and stepping
    def unscale_(self, optimizer: Any) -> None:
        """Divide the optimizer's gradients by the scale in place (one fused pass per device
        and dtype), recording on the device whether any was inf/NaN."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] == UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] == STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        backend = self._scale._backend
        with _current(backend):  # 1 / scale in float64, as PyTorch's double reciprocal
            xp = backend.xp
            inv_scale = (1.0 / self._scale._data.reshape(1).astype(xp.float64)).astype(
                xp.float32)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale)
        state["stage"] = UNSCALED

    def _unscale_grads_(self, optimizer: Any, inv_scale: Any) -> dict:
        groups: dict = defaultdict(list)  # (backend, dtype) -> gradient arrays
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.dtype == dtypes.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                groups[g._backend, g.dtype].append(g._data)
        found: dict = {}
        for (backend, _), arrays in groups.items():
            with _current(backend):
                if backend.name not in found:
                    found[backend.name] = (backend, backend.xp.zeros(1, dtype="float32"),
                                           _on(backend, inv_scale, self._scale._backend))
                _, flag, inv = found[backend.name]
                backend.kernels.amp_unscale_multi(arrays, flag, inv)
        for backend, _, _ in found.values():  # the gradients changed in place
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None and p.grad._backend is backend:
                        p.grad._bump_version()
        return {name: (backend, flag) for name, (backend, flag, _) in found.items()}

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """unscale_ (unless done since the last update), then optimizer.step(*args) unless a
        gradient held inf/NaN (the one host read: the skip decision)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] == STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == READY:
            self.unscale_(optimizer)
        if not state["found_inf_per_device"]:
            raise RuntimeError("No inf checks were recorded for this optimizer.")
        found = 0.0
        for backend, flag in state["found_inf_per_device"].values():
            with _current(backend):
                found += float(flag[0])
        retval = None if found else optimizer.step(*args, **kwargs)
        state["stage"] = STEPPED
        return retval

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """The next scale: new_scale if given, else backoff after an inf/NaN step, growth after
        growth_interval clean ones (computed on the device, no host read)."""
        if not self._enabled:
            return
        scale, tracker = self._check_scale_growth_tracker("update")
        backend, xp = scale._backend, scale._backend.xp
        with no_grad(), _current(backend):
            if new_scale is not None:
                value = new_scale._data if isinstance(new_scale, Tensor) else new_scale
                scale._data[...] = xp.asarray(value, dtype="float32").reshape(())
            else:
                flags = [_on(backend, flag, b) for s in self._per_optimizer_states.values()
                         for b, flag in s["found_inf_per_device"].values()]
                if not flags:
                    raise RuntimeError("No inf checks were recorded prior to update.")
                found = sum(flags[1:], flags[0])[0] > 0
                self._update_scale(xp, found)
        self._per_optimizer_states = defaultdict(_fresh_state)

    def _update_scale(self, xp: Any, found: Any) -> None:
        """PyTorch's _amp_update_scale_: on inf/NaN scale *= backoff and the tracker resets;
        else the tracker counts up, and at growth_interval the scale grows (if that stays
        finite) and the tracker resets."""
        s, t = self._scale._data, self._growth_tracker._data
        successful = t + 1
        grow = successful >= self._growth_interval
        grown = s * xp.float32(self._growth_factor)
        grown = xp.where(xp.isfinite(grown), grown, s)
        s[...] = xp.where(found, s * xp.float32(self._backoff_factor), xp.where(grow, grown, s))
        t[...] = xp.where(found | grow, 0, successful)

    # ---- state
    def get_scale(self) -> float:
        """The current scale as a Python float (a host read), 1.0 when disabled."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else \
            int(self._growth_tracker.item())

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} when
        disabled), as PyTorch's."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what state_dict returned."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._scale is not None:
            self._lazy_init(self._scale.device)


def _on(backend: Any, array: Any, source: Any) -> Any:
    """`array` (living on `source`'s device) on `backend`'s device."""
    if source is backend:
        return array
    return backend.from_host(source.to_host(array))

