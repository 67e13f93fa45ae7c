"""cinescape: a landscape photo in, a seamless looping time-lapse out (Animating Landscape, Endo et al. 2019).

    import cinescape
    frames = cinescape.animate("photo.jpg", num_frames=60)          # list of uint8 (H, W, 3)
    pipe = cinescape.CinemagraphPipeline.from_pretrained()           # the shipped default model
    cinescape.write_video(pipe.plan("photo.jpg").frames(), "loop.mp4", fps=20)
    cinescape.animate_many("photos/", "loops/", workers=2)          # a folder of photos, resumable
"""

__version__ = "0.1.0"

from .batch import BatchResult, animate_many
from .codebook import Codebook, CodeSelector
from .errors import CinescapeError
from .io import load_image, write_video
from .pipeline import Animation, AnimationSettings, CinemagraphPipeline, animate

__all__ = [
    "Animation",
    "AnimationSettings",
    "BatchResult",
    "CinemagraphPipeline",
    "CinescapeError",
    "Codebook",
    "CodeSelector",
    "animate",
    "animate_many",
    "load_image",
    "write_video",
    "__version__",
]
