"""FGLA: fine-grained motion embedding for landscape animation (Xue et al., ACM MM 2021), per-region motion.

AL encodes a clip's motion into ONE code, so a photo's sky and water move alike. FGLA encodes the motion
of each *semantic group* separately (Sec. 3):

1. **Groups.** Every pixel is labelled with one of six groups, sky, tree, grass, water, waterfall, others
   (:mod:`cinescape.segmentation`; any :class:`~cinescape.segmentation.Segmenter`, by default the ADE20K one
   with its sky replaced by the U²-Net-p sky matte's, :class:`~cinescape.segmentation.SkyMatteSegmenter`).
2. **Fine-grained motion encoder** E (Eq. 1-4): a stack of partial convolutions
   (:class:`~cinescape.models.partial_conv.PartialConv2d`) that reads a flow only under one group's mask,
   ``z^i = E(F, M^i)``, so the latent *set* Z = [z^1 .. z^N] holds one ``latent_dim``-d latent per group
   (paper: 6 groups x 2-d).
3. **Latent map** (Eq. 5): ``L(x, y) = z^k`` where pixel (x, y) is in group k (:func:`fill_latent_map`).
4. **Motion generator** P (Eq. 6): the project's U-Net predictor fed the image and the latent map
   (:class:`~cinescape.models.predictor.LatentMapPredictor`), output ``tanh(.) / c`` with c = 32, a
   normalised backward flow (:mod:`cinescape.ops.warp`) of a ``reference_size`` square, rescaled to other
   image sizes like AL's (:meth:`FGLAModel.predict_flow`).

Training (Sec. 3.3, :func:`fgla_loss`, :func:`train_fgla`): a frame pair (I_t, I_{t+1}) of a clip, its
pseudo-ground-truth backward flow F_t (OpenCV DIS, computed on the original frames; procedural clips carry
their exact flow) and the group map of the clip's first frame (cached per clip). **Flip self-supervision**:
the encoder sees the *horizontally mirrored* flow (columns flipped, x negated) and mirrored group masks, while
the generator sees the original frame and must produce the original flow, so the encoder cannot pass the
flow's layout through to the generator pixel for pixel (the flip happens after estimating the flow, so every
flow value stays a valid flow). The mirroring lives in :meth:`FGLAModel.encode`, so references at inference
go through exactly the same path. Loss::

    L = L_frame + alpha * L_flow + beta * L_tv          (Eq. 12; alpha = 0.5, beta = 5, sigma = 0.1)

* ``L_frame``: mean L1 between warp(I_t, F^) and I_{t+1} (images in [-1, 1]), Eq. 8;
* ``L_flow``: mean L1 between F^ and F_t, Eq. 9;
* ``L_tv``: :func:`~cinescape.ops.edge_aware_tv` of F^ guided by the generated frame, Eq. 10-11.

Units: ``L_flow`` and ``L_tv`` are computed on flows in **normalised units of the training crop** (the
generator's own output units, the paper's convention: 1 = half the crop side), averaged over pixels (and
neighbour pairs), not summed. In crop pixels at the default 128 px crop one pixel is 1/64, so
alpha = 0.5 and beta = 5 equal 0.0078 and 0.078 per pixel: the TV weight is close to the AL motion run's 0.1
(pixels), the flow weight is 13x below the AL run's ``--flow-loss 0.1``. The log also reports ``flow_l1_px``.

Deviations, stated: the encoder has no instance norm (normalising the first layer would remove a uniform
flow's mean, the very thing to encode; AL's encoder has none either) and ends in a masked global average and a
linear layer; the latent map is concatenated at every downsampling level of the U-Net (AL's conditioning), not
only to the input; group maps come from each clip's first frame (training) or the photo (inference) and are
held fixed while the clouds move (the paper re-segments every frame).

Use (:class:`FGLAPipeline`, ``cinescape animate --method fgla``): each group's latent comes from a reference
clip (its DIS flow averaged over its frames, encoded under the reference's own mask of that group, or of the
region ``reference_regions`` names instead, e.g. a cloud clip's sky or whole frame for a photo's water), or from
the model's per-group codebook (the training clips' latents, picked at random from the seed: what
``cinescape evaluate --method fgla:DIR`` does), or keeps still.
"""

from .model import FGLACodebook, FGLAModel, PartialConvEncoder, PartialConvEncoderConfig
from .pipeline import DEFAULT_FGLA_DIR, FGLAPipeline, FGLASettings, is_fgla_folder, parse_group, parse_region_options

__all__ = ["FGLAPipeline", "FGLASettings", "FGLAModel", "FGLACodebook", "PartialConvEncoder", "PartialConvEncoderConfig",
           "DEFAULT_FGLA_DIR", "is_fgla_folder", "parse_group", "parse_region_options"]
