"""Time-of-day schedules: codebook appearance codes sorted into day, sunset, twilight and night.

The codebook holds, for each training appearance clip, the code of every frame (``codebook.appearance``), but no
labels: AL's latent space is learnt without time labels (AL Sec. 6.4.1). To let a user ask for
``--time-of-day day,sunset,night``, each code is labelled by what it *does*: the appearance predictor applies it
to a fixed reference photo and three colour statistics of the result decide (:func:`code_statistics`,
:func:`classify_time_of_day`):

* luma ``L`` (Rec. 601, mean over the image, in [0, 1]): night is dark;
* warmth ``W = mean(R - B)`` (in [0, 1] units): sunsets are red/orange;
* saturation (mean of ``(max - min) / max`` over R, G, B), reported, not used by the rules.

Why a fixed reference rather than the user's photo: the statistics then depend on the code alone, so the labels
are the same for every photo (a night photo does not turn every code into "night"), they are computed once per
model (804 codes of the shipped model: 17.5 s of CPU at 64x112 on one thread, measured with
TimeOfDayCodes.from_codebook on 2026-12-07) and cached, and the thresholds below
have a fixed meaning. The reference is the procedural day landscape (:func:`~cinescape.data.synthetic.generate_landscape_photo`,
sky, clouds, mountains, water), an in-distribution photo for the predictor: on the v0.1 model the 804 codes' luma
and warmth on it and on a real landscape photo (scg_lhq_0000008) correlate at 0.985 and 0.978 (mean absolute
differences 0.02 and 0.03).

Rules, relative to the reference photo's own statistics ``L_ref``, ``W_ref``:

* ``night``: ``L < 0.45 L_ref``;
* ``sunset``: not night and ``W - W_ref > 0.25`` (pink and orange skies; beige overcast casts stay below);
* ``day``: neither, and ``L >= 0.75 L_ref``;
* ``twilight``: the rest (dim but not dark, not warm: dusk and dawn blue hours).

A schedule goes from the photo's own code through the code nearest (in latent space) to the centre of each listed
class, and back (:func:`time_of_day_keyframes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...errors import OptionError
from ...io.image import image_to_tensor
from ...models.precision import inference_autocast
from ...ops import color_transfer

TIME_OF_DAY = ("day", "sunset", "twilight", "night")
ALIASES = {"dusk": "twilight", "dawn": "twilight", "evening": "sunset", "sunrise": "sunset", "noon": "day"}
NIGHT_LUMA = 0.45       # night: luma below this fraction of the reference's
DAY_LUMA = 0.75         # day: luma at least this fraction of the reference's
SUNSET_WARMTH = 0.25    # sunset: R - B at least this much above the reference's (pink and orange skies, not beige)
REFERENCE_SIZE = (64, 112)


def parse_time_of_day(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"day,sunset,night"`` (or a list) -> ``("day", "sunset", "night")``; aliases dusk/dawn -> twilight,
    evening/sunrise -> sunset, noon -> day. Unknown names raise :class:`~cinescape.errors.OptionError`."""
    names = text.split(",") if isinstance(text, str) else list(text)
    result = []
    for raw in names:
        name = str(raw).strip().lower()
        name = ALIASES.get(name, name)
        if name not in TIME_OF_DAY:
            raise OptionError(f"time_of_day: unknown time of day {str(raw).strip()!r}: use a comma-separated list of "
                              f"{', '.join(TIME_OF_DAY)} (e.g. day,sunset,night)")
        result.append(name)
    if not result:
        raise OptionError("time_of_day: give at least one of " + ", ".join(TIME_OF_DAY))
    return tuple(result)


def reference_photo() -> torch.Tensor:
    """The fixed reference: a (1, 3, 64, 112) procedural day landscape in [-1, 1]."""
    from ...data.synthetic import generate_landscape_photo

    return image_to_tensor(generate_landscape_photo(*REFERENCE_SIZE, seed=9))


def image_statistics(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) images in [-1, 1] -> (B, 3): luma, warmth (R - B) and saturation, in [0, 1] units."""
    rgb = (images.float() + 1) / 2
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).mean((1, 2))
    warmth = (rgb[:, 0] - rgb[:, 2]).mean((1, 2))
    high, low = rgb.amax(1), rgb.amin(1)
    saturation = ((high - low) / high.clamp_min(1e-3)).mean((1, 2))
    return torch.stack((luma, warmth, saturation), dim=1)


@torch.no_grad()
def code_statistics(appearance, codes: torch.Tensor, reference: torch.Tensor | None = None,
                    batch: int = 128) -> torch.Tensor:
    """(N, 3) :func:`image_statistics` of the reference photo colour-transferred with each of ``codes`` (N, D)."""
    reference = reference_photo() if reference is None else reference
    out = []
    for chunk in codes.split(batch):
        images = reference.expand(chunk.shape[0], -1, -1, -1)
        with inference_autocast():
            maps = appearance.predict_maps(images, chunk)
        out.append(image_statistics(color_transfer(maps.float(), images)))
    return torch.cat(out) if out else torch.zeros(0, 3)


def classify_time_of_day(statistics: torch.Tensor, reference_statistics: torch.Tensor) -> list[str]:
    """Labels (one of :data:`TIME_OF_DAY`) for (N, 3) code statistics, by the rules of the module docstring."""
    ref_luma, ref_warmth = float(reference_statistics[0]), float(reference_statistics[1])
    labels = []
    for luma, warmth, _ in statistics.tolist():
        if luma < NIGHT_LUMA * ref_luma:
            labels.append("night")
        elif warmth - ref_warmth > SUNSET_WARMTH:
            labels.append("sunset")
        elif luma >= DAY_LUMA * ref_luma:
            labels.append("day")
        else:
            labels.append("twilight")
    return labels


@dataclass
class TimeOfDayCodes:
    """Every codebook appearance code with its statistics and label."""

    codes: torch.Tensor          # (N, D)
    statistics: torch.Tensor     # (N, 3) luma, warmth, saturation on the reference photo
    labels: list[str]

    @classmethod
    def from_codebook(cls, appearance, codebook) -> TimeOfDayCodes:
        codes = torch.cat(codebook.appearance) if codebook.appearance else torch.zeros(0, appearance.latent_dim)
        reference = reference_photo()
        statistics = code_statistics(appearance, codes, reference)
        labels = classify_time_of_day(statistics, image_statistics(reference)[0])
        return cls(codes, statistics, labels)

    def counts(self) -> dict[str, int]:
        return {name: self.labels.count(name) for name in TIME_OF_DAY}

    def representative(self, name: str) -> int:
        """Index of the ``name`` code nearest to the mean of all ``name`` codes (a typical one, never a blend)."""
        members = torch.tensor([i for i, label in enumerate(self.labels) if label == name], dtype=torch.long)
        if members.numel() == 0:
            found = ", ".join(f"{k} ({v})" for k, v in self.counts().items() if v) or "none"
            raise OptionError(f"time_of_day: the model's codebook has no {name} codes (by their colours on a "
                              f"reference photo; it has: {found})")
        group = self.codes[members]
        return int(members[(group - group.mean(0)).norm(dim=1).argmin()])


def time_of_day_keyframes(table: TimeOfDayCodes, names: tuple[str, ...] | list[str] | str) -> torch.Tensor:
    """(K, D) codes, one per listed time of day (each class's representative code), in order."""
    return table.codes[[table.representative(name) for name in parse_time_of_day(names)]]
