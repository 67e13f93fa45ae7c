"""Which static field should the Eulerian mode integrate? Diagnostic variants, scored per code (issue 5).

Runs ``experiments/measure_motion_codes.py`` (every codebook motion code on the validation clips, the codebook mean)
with the Eulerian mode's motion states built another way (loop "none", as that script plans):

* ``advected``: the first-frame field carried along with the content, ``V_t(p) = mask(p) * V(p + A_t(p))``:
  each bit of content keeps the velocity it started with (Lagrangian), as the recurrent mode's re-predictions do
  roughly; still one network call.
* ``streamline-mean``: the first-frame field averaged along each pixel's path over the clip,
  ``mask(p) * mean_t V(p + A_t(p))``: the rollout mean if P^M's flow simply travelled with the content; one call.
* ``rollout-mean``: the recurrent mode's per-frame flows (masked, as it renders them) averaged over the clip and
  integrated as one static field: the field a distilled velocity predictor (:mod:`cinescape.methods.al.velocity`) aims at.
  It needs the recurrent mode's calls, so it is an upper bound, not a mode.

The shipped Eulerian field (P^M on the photo) and a distilled velocity predictor are measured with
``measure_motion_codes.py --mode eulerian`` itself (``--model DIR`` for a folder with ``velocity_predictor/``).

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_eulerian_fields.py --field advected \\
        --data ../shared/data/motion/skytimelapse128 --out outputs/motion_codes_advected.json

(about 8 minutes for ``advected`` and ``streamline-mean``, 12 for ``rollout-mean`` on 2 cores).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import torch

from cinescape.ops import accumulate_flow, integrate_velocity, warp
from cinescape.methods.al.pipeline import CinemagraphPipeline

FIELDS = ("advected", "rollout-mean", "streamline-mean")
_shipped_states = CinemagraphPipeline._motion_states


def _advected(pipeline, small, z, count, settings, mask):
    velocity = pipeline.predict_velocity(small, z, settings.motion_speed)   # unmasked: masked where it lands
    weight = torch.ones_like(velocity[:, :1]) if mask is None else mask
    accumulated, steps = [torch.zeros_like(velocity)], [torch.zeros_like(velocity)]
    for _ in range(count - 1):
        step = weight * warp(velocity, accumulated[-1], padding="border")   # the velocity of the content at p
        accumulated.append(accumulate_flow(accumulated[-1], step))
        steps.append(step)
    return torch.cat(accumulated), torch.cat(steps)


def _streamline_mean(pipeline, small, z, count, settings, mask):
    velocity = pipeline.predict_velocity(small, z, settings.motion_speed)   # unmasked: sampled where content lands
    moving = velocity if mask is None else velocity * mask
    # the rollout mean without the rollout: content at p at time t started at p + A_t(p) and brings the velocity
    # predicted there, so average V over each pixel's path (A_t from the masked field, as the content moves)
    paths = integrate_velocity(moving, count - 2)[:, 0]
    mean = warp(velocity.expand(count - 1, -1, -1, -1), paths, padding="border").mean(0, keepdim=True)
    mean = mean if mask is None else mean * mask
    accumulated = integrate_velocity(mean, count - 1)[:, 0]
    return accumulated, torch.cat((torch.zeros_like(mean), mean.expand(count - 1, -1, -1, -1)))


def _rollout_mean(pipeline, small, z, count, settings, mask):
    _, steps = pipeline.predict_motion(small, z, count, settings.motion_speed, mask=mask)
    velocity = steps[1:].mean(0, keepdim=True)
    accumulated = integrate_velocity(velocity, count - 1)[:, 0]
    return accumulated, torch.cat((torch.zeros_like(velocity), velocity.expand(count - 1, -1, -1, -1)))


def main() -> None:
    if "--field" not in sys.argv or sys.argv.index("--field") + 1 >= len(sys.argv):
        sys.exit(f"usage: {Path(__file__).name} --field {{{','.join(FIELDS)}}} [measure_motion_codes.py options]")
    position = sys.argv.index("--field")
    field = sys.argv[position + 1]
    if field not in FIELDS:
        sys.exit(f"--field must be one of {', '.join(FIELDS)}, got {field!r}")
    build = {"advected": _advected, "rollout-mean": _rollout_mean, "streamline-mean": _streamline_mean}[field]

    def motion_states(self, small, z, count, settings, mask, progress, arrows_field=None):
        if settings.mode != "eulerian" or arrows_field is not None or settings.loop != "none":
            return _shipped_states(self, small, z, count, settings, mask, progress, arrows_field)
        return build(self, small, z, count, settings, mask)

    CinemagraphPipeline._motion_states = motion_states
    rest = sys.argv[1:position] + sys.argv[position + 2:]
    if "--mode" not in rest:
        rest += ["--mode", "eulerian"]
    sys.argv = ["measure_motion_codes.py", *rest]
    runpy.run_path(str(Path(__file__).with_name("measure_motion_codes.py")), run_name="__main__")


if __name__ == "__main__":
    main()
