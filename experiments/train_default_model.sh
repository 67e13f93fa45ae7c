#!/usr/bin/env bash
# The exact commands that trained the shipped default model (src/cinescape/default_model), on this
# project's 2-core CPU machine, with ../shared/data beside the repository (docs/training.md explains
# every choice). Stages: experiments/train_default_model.sh [motion|appearance|export|all|experiments|priors|velocity]
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data
export CINESCAPE_WEIGHTS=${CINESCAPE_WEIGHTS:-../shared/weights}
stage=${1:-all}

MOTION_DATA=(--data $D/motion/skytimelapse128 --data $D/motion/karlsruhe_2024-06-01 --data $D/motion/karlsruhe_2024-06-22
  --data $D/motion/karlsruhe_2024-06-19:4 --data $D/motion/karlsruhe_2024-06-20m:4 --data $D/motion/al_sample
  --data $D/motion/cloud_pair --data $D/motion/videos/clouds_stock.mp4:8 --data $D/motion/videos/boats.mp4:3
  --data $D/motion/videos/fountain.mp4:4)
MOTION_LOSS=(--motion-tv 0.1 --motion-norm charbonnier --min-pair-difference 0.0 --min-pair-motion 0.3 --flow-loss 0.1
  --lr 2e-4 --synthetic 24 --checkpoint-every 500 --snapshot-every 1000)

if [ "$stage" = motion ] || [ "$stage" = all ]; then
  # 1. pseudo-GT flow supervision, encoder fed each clip's mean flow (plain tanh head): 3000 steps
  cinescape train motion --out runs/motion_flow --steps 3000 --common-field flow --threads 2 "${MOTION_LOSS[@]}" "${MOTION_DATA[@]}"
  # 2. gated flow head, fine-tuned from 1 (the gate channel is new): 4000 steps. THE SHIPPED MOTION MODEL.
  cinescape train motion --out runs/motion_gated --steps 4000 --common-field flow --motion-gate \
    --init-from runs/motion_flow/checkpoint.pt --threads 2 "${MOTION_LOSS[@]}" "${MOTION_DATA[@]}"
fi
if [ "$stage" = experiments ]; then
  # Compared, not shipped (docs/training.md): the encoder fed each pair's own flow, fine-tuned from 2.
  cinescape train motion --out runs/motion_pair --steps 4000 --common-field pair --motion-gate \
    --init-from runs/motion_gated/checkpoint.pt --threads 2 "${MOTION_LOSS[@]}" "${MOTION_DATA[@]}"
fi

if [ "$stage" = priors ]; then
  # Not shipped (docs/training.md, "Latent priors"): codes regularised towards N(0, I) (AL Sec. 6.6), fine-tuned
  # from the shipped motion model, so animate --motion-code gaussian can draw them.
  cinescape train motion --out runs/motion_wae --steps 1500 --common-field flow --motion-gate --latent-prior wae \
    --latent-prior-weight 0.01 --init-from src/cinescape/default_model --threads 1 "${MOTION_LOSS[@]}" "${MOTION_DATA[@]}"
  cinescape train motion --out runs/motion_vae --steps 1500 --common-field flow --motion-gate --latent-prior vae \
    --latent-prior-weight 0.001 --init-from src/cinescape/default_model --threads 1 "${MOTION_LOSS[@]}" "${MOTION_DATA[@]}"
fi

if [ "$stage" = appearance ] || [ "$stage" = all ]; then
  cinescape train appearance --out runs/appearance_v1 --steps 3000 --lr 2e-4 --threads 1 --synthetic 12 \
    --data $D/appearance/tilde_webcam --data $D/appearance/sunset_to_night:2 \
    --data $D/appearance/desert_city_webcam:2 --data $D/appearance/al_sample
fi

if [ "$stage" = export ] || [ "$stage" = all ]; then
  # Assemble the package's model folder: motion snapshot + appearance run + merged codebook + defaults.
  python - <<'PY'
import json, shutil
from pathlib import Path
from cinescape.methods.al.codebook import Codebook
motion_dir = Path("runs/motion_gated/snapshots/step_004000")
appearance_dir = Path("runs/appearance_v1/model")
out = Path("src/cinescape/default_model")
for part, source in (("motion", motion_dir), ("appearance", appearance_dir)):
    for suffix in ("predictor", "encoder"):
        shutil.rmtree(out / f"{part}_{suffix}", ignore_errors=True)
        shutil.copytree(source / f"{part}_{suffix}", out / f"{part}_{suffix}")
motion, appearance = Codebook.load(motion_dir), Codebook.load(appearance_dir)
Codebook(motion=motion.motion, motion_names=motion.motion_names,
         appearance=appearance.appearance, appearance_names=appearance.appearance_names).save(out)
settings = json.loads((motion_dir / "pipeline.json").read_text())
settings.update(json.loads((appearance_dir / "pipeline.json").read_text()))
# Land stays still where the sky matte and ADE20K segmenter find no sky or water (docs/training.md).
settings["defaults"] = {"auto_mask": "sky+water"}
# The run was started for more steps; its snapshot at 4000 is what a --steps 4000 run ends with.
settings["motion_training"]["steps"] = 4000
(out / "pipeline.json").write_text(json.dumps(settings, indent=2) + "\n")
print(f"wrote {out} from {motion_dir} and {appearance_dir}")
PY
  # AL App. B's appearance-code LSTM, trained on the merged codebook's appearance sequences (seed 0, 500 steps,
  # ~10 s), so --appearance-sequence lstm works with the shipped model.
  cinescape codebook --model src/cinescape/default_model --train-lstm
fi

if [ "$stage" = velocity ]; then
  # Not shipped (docs/training.md, "A velocity predictor for the Eulerian mode"): the Eulerian mode's one-call
  # field distilled from the shipped motion model's recurrent rollouts (cinescape.methods.al.velocity). 1. 1024 (crop, code)
  # targets, 32-frame rollouts, 2000 steps from P^M at lr 3e-5, exported into a copy of the shipped model;
  # 2. 2000 more steps on 1024 fresh targets (--seed 1), from 1's predictor, into a second copy.
  # 3. 2048 more targets (--seed 2; the run's one training step is discarded), then 3000 steps with a cosine
  #    learning rate on all 4096 pooled targets, from 2's predictor, into a third copy.
  VELOCITY_DATA=(--data $D/motion/skytimelapse128 --data $D/motion/karlsruhe_2024-06-01
    --data $D/motion/karlsruhe_2024-06-22 --data $D/motion/karlsruhe_2024-06-19:4 --data $D/motion/karlsruhe_2024-06-20m:4
    --data $D/motion/al_sample --data $D/motion/videos/clouds_stock.mp4:8 --data $D/motion/videos/boats.mp4:3
    --data $D/motion/videos/fountain.mp4:4)
  rm -rf runs/velocity_model && cp -r src/cinescape/default_model runs/velocity_model
  cinescape train velocity --out runs/velocity --targets 1024 --rollout 32 --steps 2000 --threads 2 \
    --init-from src/cinescape/default_model --export runs/velocity_model "${VELOCITY_DATA[@]}"
  rm -rf runs/velocity_model2 && cp -r runs/velocity_model runs/velocity_model2
  cinescape train velocity --out runs/velocity_stage2 --targets 1024 --rollout 32 --steps 2000 --threads 2 --seed 1 \
    --init-from runs/velocity_model2 --export runs/velocity_model2 "${VELOCITY_DATA[@]}"
  cinescape train velocity --out runs/velocity_t2 --targets 2048 --rollout 32 --steps 1 --threads 2 --seed 2 \
    --init-from runs/velocity_model2 "${VELOCITY_DATA[@]}"
  rm -rf runs/velocity_model3 && cp -r runs/velocity_model2 runs/velocity_model3
  cinescape train velocity --out runs/velocity_stage3 --targets 0 --pool runs/velocity --pool runs/velocity_stage2 \
    --pool runs/velocity_t2 --rollout 32 --steps 3000 --lr-schedule cosine --threads 2 --seed 3 \
    --init-from runs/velocity_model3 --export runs/velocity_model3 "${VELOCITY_DATA[@]}"
fi
