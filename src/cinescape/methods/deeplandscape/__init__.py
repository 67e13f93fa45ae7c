"""DeepLandscape (Logacheva et al. 2020): a StyleGAN with static and dynamic latents and noise, trained on
images and time-lapse pairs; a photo is inverted into it and animated by moving its dynamic noise.

Modules: :mod:`.generator` (the model), :mod:`.discriminator`, :mod:`.encoder` (inversion encoder and lighting
approximator), :mod:`.homography` (noise motion), :mod:`.augment`, :mod:`.train` (training script),
:mod:`.pipeline` (photo -> loop; imported on first use, so training needs only torch and numpy).
"""

__all__ = ["DeepLandscapePipeline", "DeepLandscapeSettings"]


def __getattr__(name: str):
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
