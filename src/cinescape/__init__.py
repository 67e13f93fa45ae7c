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

# The public names are imported on first use (PEP 562), so ``import cinescape`` and ``cinescape --help`` do not pay
# for torch and OpenCV; ``from cinescape import animate`` imports what it needs.
_LAZY = {
    "BatchResult": "batch", "animate_many": "batch", "CinescapeError": "errors", "load_image": "io",
    "write_video": "io", "load_pipeline": "methods", "Animation": "methods.al", "AnimationSettings": "methods.al",
    "CinemagraphPipeline": "methods.al", "Codebook": "methods.al", "CodeSelector": "methods.al",
    "animate": "methods.al", "FGLAPipeline": "methods.fgla",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'cinescape' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value   # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


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
