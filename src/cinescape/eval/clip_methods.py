"""The methods of ``cinescape evaluate`` on clips (:mod:`cinescape.eval.evaluate`): the ``static``, ``shift`` and
``real`` baselines and models through the public API, each generating a video of a clip's length at the
comparison size (:class:`Generated`)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import OptionError
from ..ops import flow_pixels_to_normalized, warp

from .clip_data import EvalClip, EvalSettings

__all__ = ["Generated", "Method", "StaticMethod", "ShiftMethod", "RealMethod", "PipelineMethod", "resolve_method"]


@dataclass
class Generated:
    """A generated video: uint8 (N, H, W, 3) frames and, if the method knows them, its (N, 2, H, W)
    backward flows in pixels (``flows[n]`` maps frame n to frame n - 1; ``flows[0] = 0``) and, for a GAN
    inversion (DeepLandscape), the (reconstruction, target) pair at the generator's resolution, (1, 3, R, R) in
    [-1, 1] (:func:`cinescape.eval.metrics.inversion_quality`)."""

    frames: np.ndarray
    flows: torch.Tensor | None = None
    inversion: tuple[torch.Tensor, torch.Tensor] | None = None


class Method:
    """A way to animate an input: ``generate(clip, seed)`` -> :class:`Generated` of ``len(clip.frames)`` frames
    at the comparison size, starting from the input (``clip.frames[0]``, or ``clip.input`` at its native size
    brought there by ``clip.prepare``); methods must not look at the other frames, except ``real``."""

    name = "method"
    stochastic = False
    note: str | None = None      # how the method departs from the protocol (reported once)

    def generate(self, clip: EvalClip, seed: int) -> Generated:
        raise NotImplementedError


class StaticMethod(Method):
    name = "static"

    def generate(self, clip: EvalClip, seed: int) -> Generated:
        n, h, w = clip.frames.shape[:3]
        return Generated(np.repeat(clip.frames[:1], n, axis=0), torch.zeros(n, 2, h, w))


class ShiftMethod(Method):
    """Translate the whole input by ``speed`` px/frame in a direction drawn from the seed (reflected borders)."""

    name = "shift"
    stochastic = True

    def __init__(self, speed: float = 1.0):
        self.speed = speed

    def generate(self, clip: EvalClip, seed: int) -> Generated:
        n, h, w = clip.frames.shape[:3]
        angle = random.Random(seed).uniform(0, 2 * math.pi)
        velocity = torch.tensor([math.cos(angle), math.sin(angle)]) * self.speed
        image = torch.from_numpy(clip.frames[0]).permute(2, 0, 1)[None].float()
        # Frame k shows the input moved by k * velocity: out(p) = input(p - k v), a backward flow of -k v.
        steps = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1)
        flows_px = -velocity.view(1, 2, 1, 1) * steps * torch.ones(1, 2, h, w)
        frames = warp(image.expand(n, -1, -1, -1), flow_pixels_to_normalized(flows_px, h, w))
        step_flows = -velocity.view(1, 2, 1, 1).expand(n, 2, h, w).clone()
        step_flows[0] = 0
        out = frames.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return Generated(out, step_flows)


class RealMethod(Method):
    """The real clip itself: the reference each metric reaches with real motion."""

    name = "real"

    def generate(self, clip: EvalClip, seed: int) -> Generated:
        return Generated(clip.frames, clip.flows)


class PipelineMethod(Method):
    """A cinescape model (AL's ``CinemagraphPipeline``, FGLA, DeepLandscape); the seed picks its motion (and
    appearance) codes, or DeepLandscape's motion direction.

    It animates the clip's native frame 0 as ``cinescape animate`` would: AL and FGLA with the default
    :class:`~cinescape.methods.al.AnimationSettings` except ``num_frames``, ``seed``, ``loop``, ``appearance`` and,
    when given (not None), ``mode`` and ``auto_mask``; other methods with their own settings
    (:func:`~cinescape.methods.select.resolve_settings`): ``num_frames``, ``seed`` and, without ``appearance``,
    ``lighting=0`` where the method has it (DeepLandscape always loops, its own way). ``overrides`` (a method
    spec's ``KEY=VALUE`` settings) win over all of these. Its frames are then prepared like the real frames."""

    stochastic = True

    def __init__(self, pipeline, name: str, loop: str = "none", appearance: bool = False, mode: str | None = None,
                 auto_mask: str | None = None, overrides: dict | None = None):
        self.pipeline, self.name, self.loop, self.appearance, self.mode = pipeline, name, loop, appearance, mode
        self.auto_mask = auto_mask
        self.overrides = dict(overrides or {})
        # A method that inverts the photo (DeepLandscape) reuses the clip's inversion across seeds, most of the time.
        self._reuses_plans = pipeline is not None and pipeline.offers.inversion
        self._previous = None
        if pipeline is not None and not pipeline.offers.loops:
            self.note = (f"{name}: the method's own loop (not loop={loop}), motion only unless appearance; no flows "
                         "(no EPE); inversion PSNR / LPIPS at the generator's resolution")

    def animation_settings(self, num_frames: int, seed: int):
        """The settings of one run: the CLI's defaults plus the protocol's (class docstring,
        :meth:`~cinescape.methods.base.MethodPipeline.eval_settings`)."""
        return self.pipeline.eval_settings(num_frames, seed, loop=self.loop, appearance=self.appearance,
                                           mode=self.mode, auto_mask=self.auto_mask, overrides=self.overrides)

    def generate(self, clip: EvalClip, seed: int) -> Generated:
        reuse = {"reuse": self._previous} if self._reuses_plans else {}
        animation = self.pipeline.plan(clip.input, self.animation_settings(len(clip.frames), seed), **reuse)
        if self._reuses_plans:
            self._previous = animation
        frames = clip.prepare(list(animation.frames()))
        flows = None
        if self.loop == "none" and hasattr(animation, "steps"):  # a looping mode's frames are blends: no flow
            flows = clip.prepare_flows(animation.steps)
        inversion = getattr(animation, "inversion", None)
        pair = None if inversion is None else (inversion.reconstruction(), inversion.target)
        return Generated(frames, flows, pair)


def resolve_method(name: str | Method, settings: EvalSettings) -> Method:
    """``static`` / ``shift`` / ``real`` / ``default``, ``fgla`` or ``deeplandscape`` (a shipped model) / a model
    folder (``METHOD:DIR`` also accepted, e.g. ``fgla:DIR``), a model optionally with settings ``NAME:KEY=VALUE,...`` (its method's
    settings class, :func:`cinescape.eval.photo_methods.parse_method_spec`, e.g. ``deeplandscape:finetune_steps=50``)
    -> a :class:`Method`; a model folder's pipeline.json says which pipeline loads it."""
    if isinstance(name, Method):
        return name
    from .photo_methods import parse_method_spec

    spec = parse_method_spec(name, baselines=("static", "shift", "real"))
    if spec.base == "static":
        return StaticMethod()
    if spec.base == "shift":
        return ShiftMethod(settings.shift_speed)
    if spec.base == "real":
        return RealMethod()
    from ..methods import SHIPPED_MODELS
    from ..methods.select import load_method_pipeline, split_method_folder

    method, folder = split_method_folder(spec.base)
    if folder in SHIPPED_MODELS or Path(folder).expanduser().is_dir():
        return PipelineMethod(load_method_pipeline(method, folder), name, settings.loop, settings.appearance,
                              settings.mode, settings.auto_mask, spec.overrides)
    raise OptionError(f"unknown method {spec.base!r}: use static, shift, real, {', '.join(SHIPPED_MODELS)}, a model "
                      "folder or METHOD:DIR, optionally with :KEY=VALUE,... settings")

