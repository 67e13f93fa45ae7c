"""Animating Landscape (Endo et al., SIGGRAPH Asia 2019): one photo -> a looping time-lapse (AL Algorithm 1).

* :mod:`.pipeline`: :class:`CinemagraphPipeline` (the photo's layers, motion, loop and appearance) and its
  :class:`AnimationSettings`; :mod:`.animation`: the lazily rendered :class:`Animation` it returns;
* :mod:`.motion` / :mod:`.appearance`: the motion (P^M, E^M) and appearance (P^A, E^A) networks and their losses;
  :mod:`.codebook`: the training clips' codes; :mod:`.appearance_lstm`: AL App. B's code-sequence LSTM;
* :mod:`.control`: arrows and colour patches (AL Sec. 6.4); :mod:`.time_of_day`: labelled appearance codes;
* training (never imported by the modules above): :mod:`.train` (AL Algorithms 2 and 3), :mod:`.velocity` (the
  Eulerian mode's velocity predictor, distilled from the recurrent motion), :mod:`.train_lstm` (the LSTM).
"""

from .animation import Animation
from .appearance import AppearanceModel
from .codebook import Codebook, CodeSelector
from .motion import MotionModel
from .pipeline import DEFAULT_MODEL_DIR, AnimationSettings, CinemagraphPipeline, animate

__all__ = ["CinemagraphPipeline", "AnimationSettings", "Animation", "animate", "DEFAULT_MODEL_DIR", "MotionModel",
           "AppearanceModel", "Codebook", "CodeSelector"]
