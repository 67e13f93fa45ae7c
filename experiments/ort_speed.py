"""The shipped predictors' inference on ONNX Runtime against torch's CPU paths (issue 29, branch s5-ort).

Method: the default model's appearance and motion predictors (and the velocity predictor where the model has one)
on a batch of B random frames at the working size of a 1024x576 photo (144x256), median of 7 calls after one
warm-up, per variant:

- ``torch``: ``eval()`` under ``torch.inference_mode`` with the runtime off (``CINESCAPE_RUNTIME=torch``): the
  polyphase decoder (``cinescape.models.predictor.nearest_upsample_conv``), what main runs;
- ``torch-cl``: the same with the module and input in ``channels_last`` memory format;
- ``torch-jit``: ``torch.jit.trace`` + ``torch.jit.freeze`` + ``torch.jit.optimize_for_inference`` (oneDNN fusions);
- ``torch-compile`` (only with ``--compile``): ``torch.compile`` (inductor, needs a C++ compiler); its first call,
  which compiles, is printed separately;
- ``ort``: what cinescape runs now (``cinescape.models.runtime``): the graph written from the weights, an
  ``onnxruntime`` session with all graph optimisations.

With ``--threads 1``: CPU seconds (``time.process_time``); with more: wall seconds. The maximum absolute difference
of each variant's maps from ``torch``'s is printed beside its time.

Command:

    python experiments/ort_speed.py --threads 1 --batch 4
    python experiments/ort_speed.py --threads 2 --batch 4 --compile
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from cinescape.io import onnx_graph
from cinescape.methods import load_pipeline
from cinescape.methods.select import model_folder
from cinescape.models import runtime


def median_seconds(call, clock, repeat: int = 7) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = clock()
        call()
        times.append(clock() - started)
    return sorted(times)[repeat // 2]


def variants(net, image, code, with_compile: bool) -> dict:
    """name -> a no-argument call returning the maps (each built once, outside the timing)."""
    calls = {"torch": lambda: net(image, code)}
    channels_last = image.contiguous(memory_format=torch.channels_last)
    calls["torch-cl"] = lambda: net_cl(channels_last, code)
    net_cl = net  # the same module: converted below, back after
    with torch.no_grad():
        traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, (image, code))))
    calls["torch-jit"] = lambda: traced(image, code)
    if with_compile:
        compiled = torch.compile(net)
        started = time.perf_counter()
        compiled(image, code)
        print(f"    torch.compile first call (compiles): {time.perf_counter() - started:.1f} s wall")
        calls["torch-compile"] = lambda: compiled(image, code)
    calls["ort"] = lambda: runtime.run_predictor(net, image, code)
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", default="144x256", help="HxW working size")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    unit = "CPU s" if args.threads == 1 else "wall s"
    height, width = map(int, args.size.split("x"))
    pipeline = load_pipeline(model_folder(None, None))
    nets = {"appearance": pipeline.engine.appearance.predictor, "motion": pipeline.motion.predictor}
    if pipeline.motion.velocity_predictor is not None:
        nets["velocity"] = pipeline.motion.velocity_predictor
    print(f"batch {args.batch} at {height}x{width}, {args.threads} thread(s), {unit}, onnxruntime "
          f"{onnx_graph._onnxruntime().__version__ if onnx_graph.onnxruntime_enabled() else 'off'}")
    torch.manual_seed(0)
    for name, net in nets.items():
        net.eval()
        image = torch.rand(args.batch, 3, height, width) * 2 - 1
        code = torch.randn(args.batch, net.config.latent_dim)
        os.environ["CINESCAPE_RUNTIME"] = "torch"
        with torch.inference_mode():
            calls = variants(net, image, code, args.compile)
            reference = net(image, code)
            times = {}
            for variant, call in calls.items():
                if variant == "ort":
                    os.environ["CINESCAPE_RUNTIME"] = ""
                if variant == "torch-cl":
                    net.to(memory_format=torch.channels_last)
                difference = float((call() - reference).abs().max())
                times[variant] = median_seconds(call, clock)
                if variant == "torch-cl":
                    net.to(memory_format=torch.contiguous_format)
                print(f"  {name:10s} {variant:13s} {times[variant]:.3f} {unit}  ({times['torch'] / times[variant]:.2f}x "
                      f"torch)  max difference {difference:.1e}", flush=True)


if __name__ == "__main__":
    main()
