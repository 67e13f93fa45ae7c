"""How close Eulerian fields come to cached velocity targets (``cinescape train velocity``'s ``targets.pt``).

For each model folder, the field its Eulerian mode would integrate (its ``velocity_predictor/``, else P^M on the
start crop) is predicted for every (start crop, code) of each targets file and compared with the teacher's
rollout-mean flow: the relative L1 error the distillation minimises (:func:`cinescape.methods.al.velocity.velocity_loss`,
floor 0.1 px) and the ratio of mean speeds (predicted / target; below 1: the field moves slower than the rollout).
Targets a predictor was trained on say how well it fits; targets it never saw (another ``--seed``) how well it
generalises.

    python experiments/measure_velocity_targets.py --targets runs/velocity_t2 \\
        --model src/cinescape/default_model runs/velocity_model2 runs/velocity_model3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from cinescape.methods.al.motion import MotionModel
from cinescape.ops import flow_normalized_to_pixels
from cinescape.methods.al.velocity import velocity_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", required=True, help="targets.pt files or their run folders")
    parser.add_argument("--model", nargs="+", required=True, help="model folders")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print("| model | targets | relative L1 | speed predicted / target |")
    print("|---|---|---:|---:|")
    for spec in args.targets:
        path = Path(spec) / "targets.pt" if Path(spec).is_dir() else Path(spec)
        if not path.is_file():
            raise SystemExit(f"no targets at {path} (a cinescape train velocity run folder or its targets.pt)")
        data = torch.load(path)
        for folder in args.model:
            motion = MotionModel.from_pretrained(folder)
            net = (motion.velocity_predictor or motion.predictor).eval()
            loss = predicted = target = 0.0
            count = data["images"].shape[0]
            for i in range(0, count, args.batch):
                images, codes, targets = (data[k][i:i + args.batch] for k in ("images", "codes", "targets"))
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                    loss += velocity_loss(net, images, codes, targets).item() * images.shape[0]
                    flow = net(images, codes).float()
                predicted += flow_normalized_to_pixels(flow).norm(dim=1).sum().item()
                target += flow_normalized_to_pixels(targets).norm(dim=1).sum().item()
            name = "velocity_predictor" if motion.velocity_predictor is not None else "P^M"
            print(f"| {folder} ({name}) | {path} ({count}) | {loss / count:.4f} | {predicted / target:.4f} |",
                  flush=True)


if __name__ == "__main__":
    main()
