"""Exponential moving average of the generator's weights (the weights that get exported)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """`model` is a frozen copy of the generator tracking its weights.

    The decay ramps up from 0 over the first steps ((1 + n) / (10 + n), as TensorFlow's EMA with
    num_updates), so the average is useful early in short runs and equals `decay` later.
    """

    def __init__(self, generator: nn.Module, decay: float):
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in generator.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for ema_buffer, buffer in zip(self.model.buffers(), generator.buffers(), strict=True):
            ema_buffer.copy_(buffer)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates}

    def load_state_dict(self, state: dict, params: dict) -> None:
        self.updates = int(state["updates"])
        self.model.load_state_dict(params)
