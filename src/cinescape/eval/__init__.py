"""Evaluation: the papers' metrics (:mod:`.metrics`), FID/FVD networks (:mod:`.fid`), the ``cinescape
evaluate`` harness (:mod:`.evaluate`) and the ``cinescape bench`` speed benchmark (:mod:`.bench`).

Submodules are imported on use: plots need matplotlib, in the ``eval`` extra (``pip install 'cinescape[eval]'``).
"""
