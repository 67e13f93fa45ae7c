"""The shipped predictors' inference time, polyphase decoder against the plain upsample-then-convolve form (issue 29).

Method: the default model's appearance and motion predictors on a batch of 4 random 144x256 frames (the working
size of a 1024x576 photo), one torch thread, CPU seconds, median of 6 calls after one warm-up; ``eval()`` runs the
decoder's upsampling convolutions in polyphase form (``cinescape.models.predictor.nearest_upsample_conv``),
``train()`` the plain form (the network has no dropout or batch statistics, so both give the same maps).

Command:

    python experiments/predictor_speed.py
"""

from __future__ import annotations

import time

import torch

from cinescape.methods import load_pipeline
from cinescape.methods.select import model_folder


def cpu_seconds(call, repeat: int = 6) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return sorted(times)[repeat // 2]


def main() -> None:
    torch.set_num_threads(1)
    pipeline = load_pipeline(model_folder(None, None))
    for name, net in (("appearance", pipeline.engine.appearance.predictor), ("motion", pipeline.motion.predictor)):
        image, code = torch.rand(4, 3, 144, 256) * 2 - 1, torch.randn(4, net.config.latent_dim)
        with torch.inference_mode():
            polyphase, fast = net.eval()(image, code), cpu_seconds(lambda: net(image, code))
            plain, slow = net.train()(image, code), cpu_seconds(lambda: net(image, code))
        net.eval()
        print(f"{name}: plain {slow:.3f} s, polyphase {fast:.3f} s ({slow / fast:.2f}x), "
              f"max difference {float((polyphase - plain).abs().max()):.1e}")


if __name__ == "__main__":
    main()
