"""cinescape: a landscape photo in, a seamless looping time-lapse out (Animating Landscape, Endo et al. 2019).

    import cinescape
    frames = cinescape.animate("photo.jpg", num_frames=60)          # list of uint8 (H, W, 3)
    pipe = cinescape.load_pipeline()                                 # the shipped default model (AL)
    cinescape.write_video(pipe.plan("photo.jpg").frames(), "loop.mp4", fps=20)
    fgla = cinescape.load_pipeline("fgla")                           # any model folder: its pipeline.json says
    cinescape.animate_many("photos/", "loops/", workers=2)          # a folder of photos, resumable

The methods live in :mod:`cinescape.methods` (one package each); this module re-exports the public API.
"""

from .version import __version__

from .batch import BatchResult, animate_many
from .errors import CinescapeError
from .io import load_image, write_video
from .methods import load_pipeline
from .methods.al import Animation, AnimationSettings, CinemagraphPipeline, Codebook, CodeSelector, animate
from .methods.fgla import FGLAPipeline

__all__ = [
    "Animation",
    "AnimationSettings",
    "BatchResult",
    "CinemagraphPipeline",
    "CinescapeError",
    "Codebook",
    "CodeSelector",
    "FGLAPipeline",
    "animate",
    "animate_many",
    "load_pipeline",
    "load_image",
    "write_video",
    "__version__",
]
