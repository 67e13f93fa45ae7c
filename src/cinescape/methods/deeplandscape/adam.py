"""The inversion's optimiser: Adam (Kingma & Ba 2015) over lists of tensors, and a reduce-on-plateau rate rule.

Why not ``torch.optim.Adam``: constructing the first one imports ``torch._dynamo`` (about 1.5 s of a 20 s
DeepLandscape loop on this 2-core CPU, ``py-spy`` of ``cinescape animate``), and on the CPU it steps each tensor
with its own ~10 small ops (16.6 ms per fine-tuning step of the 64 tensors of the blocks from 16 px, against
8.4 ms with one ``torch._foreach_*`` op per list). This is the same update, written on whole lists:

    m <- beta1 m + (1 - beta1) g          v <- beta2 v + (1 - beta2) g²
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

(no weight decay, no AMSGrad), with ``t`` counted per tensor: a tensor whose ``grad`` is None is skipped and
keeps its moments and count, so freezing part of the parameters mid-way (``requires_grad_(False)`` and
``zero_grad(set_to_none=True)``) stops their updates, as with torch's Adam.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

__all__ = ["Adam", "ReduceOnPlateau"]


class Adam:
    """Adam over parameter groups (``[{"params": [...], "lr": ...}, ...]`` or one list of tensors), stepped with
    ``torch._foreach_*`` ops; equal to ``torch.optim.Adam(..., foreach=True)`` to float rounding.

    ``param_groups[k]["lr"]`` may be changed between steps, as with torch's optimisers.

    >>> p = torch.zeros(2, requires_grad=True)
    >>> opt = Adam([p], lr=0.1)
    >>> p.grad = torch.tensor([1.0, -2.0])
    >>> opt.step()
    >>> [round(v, 4) for v in p.detach().tolist()]     # the first step moves each entry by lr against its sign
    [-0.1, 0.1]
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        params = list(params)
        if not params:
            raise ValueError("Adam got no parameters")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{"lr": lr, **group, "params": list(group["params"])} for group in groups]
        self.betas = betas
        self.eps = eps
        self.state: dict[torch.Tensor, dict] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self.state.setdefault(p, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
                      for p in params]
            for state in states:
                state["step"] += 1
            grads = [p.grad for p in params]
            m = [state["m"] for state in states]
            v = [state["v"] for state in states]
            torch._foreach_lerp_(m, grads, 1 - beta1)
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, grads, grads, 1 - beta2)
            denominator = torch._foreach_sqrt(v)
            steps = {s["step"] for s in states}
            if len(steps) == 1:   # the usual case: one Python scalar each, not a tensor per parameter (same sums)
                step = steps.pop()
                torch._foreach_div_(denominator, math.sqrt(1 - beta2 ** step))
                torch._foreach_add_(denominator, self.eps)
                torch._foreach_addcdiv_(params, m, denominator, value=-group["lr"] / (1 - beta1 ** step))
                continue
            torch._foreach_div_(denominator, [math.sqrt(1 - beta2 ** s["step"]) for s in states])
            torch._foreach_add_(denominator, self.eps)
            torch._foreach_addcdiv_(params, m, denominator,
                                    [-group["lr"] / (1 - beta1 ** s["step"]) for s in states])


class ReduceOnPlateau:
    """Halve (``factor``) every group's rate of ``optimiser`` when the loss has not improved by more than a relative
    ``threshold`` on its best for more than ``patience`` steps (``torch.optim.lr_scheduler.ReduceLROnPlateau``'s
    rule in its default "min", "rel" mode, without cooldown or a floor).

    >>> opt = Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> rule = ReduceOnPlateau(opt, factor=0.5, patience=1)
    >>> for loss in (3.0, 2.0, 2.0, 2.0):
    ...     rule.step(loss)
    >>> opt.param_groups[0]["lr"]
    0.5
    """

    def __init__(self, optimiser: Adam, *, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4):
        self.optimiser = optimiser
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.best = math.inf
        self.bad_steps = 0

    def step(self, loss: float) -> None:
        if loss < self.best * (1 - self.threshold):
            self.best = loss
            self.bad_steps = 0
        else:
            self.bad_steps += 1
        if self.bad_steps > self.patience:
            for group in self.optimiser.param_groups:
                group["lr"] *= self.factor
            self.bad_steps = 0
