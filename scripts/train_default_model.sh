#!/usr/bin/env bash
# The exact commands that trained the shipped default model (src/cinescape/default_model), on this
# project's 2-core CPU machine, with ../shared/data beside the repository. The two runs ran at the
# same time, one torch thread each. Then: scripts/train_default_model.sh export
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data
export CINESCAPE_WEIGHTS=${CINESCAPE_WEIGHTS:-../shared/weights}

if [ "${1:-train}" = "train" ]; then
  # Motion: the shipped weights are this run's checkpoint at 4500 steps, picked by measurement among
  # checkpoints every 250 steps (see the model card); --steps 4500 reproduces them.
  cinescape train motion --out runs/motion_default --steps 4500 --motion-tv 0.1 --motion-norm charbonnier \
    --min-pair-difference 0.01 --lr 2e-4 --threads 1 --synthetic 24 \
    --data $D/motion/skytimelapse128:4 --data $D/motion/karlsruhe_2024-06-01 --data $D/motion/karlsruhe_2024-06-22:4 \
    --data $D/motion/karlsruhe_2024-06-19:8 --data $D/motion/al_sample --data $D/motion/cloud_pair \
    --data $D/motion/videos/clouds_stock.mp4:16 --data $D/motion/videos/boats.mp4:2 \
    --data $D/motion/videos/fountain.mp4:2 &
  cinescape train appearance --out runs/appearance_v1 --steps 3000 --lr 2e-4 --threads 1 --synthetic 12 \
    --data $D/appearance/tilde_webcam --data $D/appearance/sunset_to_night:2 \
    --data $D/appearance/desert_city_webcam:2 --data $D/appearance/al_sample &
  wait
fi

# Assemble the package's model folder from the two runs' exported halves.
out=src/cinescape/default_model
mkdir -p $out
cp -r runs/motion_default/model/motion_predictor runs/motion_default/model/motion_encoder $out/
cp -r runs/appearance_v1/model/appearance_predictor runs/appearance_v1/model/appearance_encoder $out/
python - <<'PY'
import json
from pathlib import Path
from cinescape.codebook import Codebook
out = Path("src/cinescape/default_model")
motion, appearance = Codebook.load("runs/motion_default/model"), Codebook.load("runs/appearance_v1/model")
Codebook(motion=motion.motion, motion_names=motion.motion_names,
         appearance=appearance.appearance, appearance_names=appearance.appearance_names).save(out)
settings = json.loads(Path("runs/motion_default/model/pipeline.json").read_text())
settings.update(json.loads(Path("runs/appearance_v1/model/pipeline.json").read_text()))
(out / "pipeline.json").write_text(json.dumps(settings, indent=2) + "\n")
PY
