"""How long the web page waits: upload, mask, preview and full render of a 1024x576 photo through `cinescape serve`.

    python benchmarks/web_timings.py                       # web defaults (eulerian, colour stride 2), 3 repeats
    python benchmarks/web_timings.py --mode recurrent --appearance-stride 1 --repeat 1
    python benchmarks/web_timings.py --method deeplandscape --repeat 1
    python benchmarks/web_timings.py --think 2                  # the user looks at the preview 2 s first
    python benchmarks/web_timings.py --look 1                   # and at the mask 1 s before the preview

Starts `cinescape serve` in its own process (shipped model), uploads the bundled example resized to 1024x576,
asks for its automatic mask, then for a preview and a full render (5 s at 20 fps = 100 frames) with the page's
defaults, each time from the request to the moment the finished video is offered, as the page learns it (its
event stream, ``/api/renders/ID/events``), and fetched; then the same preview again (``again``: the page's
preview button pressed twice, or after a format change). ``server`` is the render's own time in the server (its
status' ``seconds``); the rest of a wall time is the request overhead (HTTP, queue, the event, the download).
The floor (:func:`cinescape.eval.floor.measure_floor`, 100 frames at the photo's size) is measured in this
process between the requests, once per repeat, and the render's ratio to it printed. ``cpu``: the CPU seconds the
server process spent on a step (all its threads; Linux only), which a loaded machine inflates far less than the
wall clock. With ``--method deeplandscape`` the first preview inverts the photo, and a second preview with another
direction (``preview2``) and the render reuse that inversion. Prints one row per repeat and the medians, and the
machine's load average (the timings are wall clock: other jobs on the machine slow them down).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from cinescape.eval.floor import measure_floor

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic_landscape.png"


def request(url: str, data: bytes | None = None, method: str | None = None, content_type: str | None = None):
    headers = {"Content-Type": content_type} if content_type else {}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers),
                                timeout=600) as response:
        body = response.read()
        return json.loads(body) if response.headers["Content-Type"] == "application/json" else body


def wait_done(base: str, render_id: str) -> dict:
    """Follow the render's event stream, as the page does, until it ends."""
    with urllib.request.urlopen(f"{base}api/renders/{render_id}/events", timeout=600) as stream:
        for line in stream:
            if not line.startswith(b"data: "):
                continue
            status = json.loads(line[6:])
            if status["state"] in ("done", "failed", "cancelled"):
                if status["state"] != "done":
                    raise SystemExit(f"render {status['state']}: {status['error']}")
                return status
    raise SystemExit(f"the event stream of render {render_id} ended early")


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process ``pid`` so far; NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_render(base: str, photo_id: str, settings: dict, pid: int) -> tuple[float, dict]:
    started, cpu = time.perf_counter(), server_cpu(pid)
    body = json.dumps({"settings": settings, "mask": None}).encode()
    status = request(f"{base}api/photos/{photo_id}/renders", body, "POST", "application/json")
    status = wait_done(base, status["id"])
    request(f"{base}{status['video_url'].lstrip('/')}")   # the finished file is there
    return time.perf_counter() - started, {**status, "cpu": server_cpu(pid) - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1024x576", help="photo size WxH (default 1024x576)")
    parser.add_argument("--mode", default=None, help="motion mode (default: the page's, eulerian)")
    parser.add_argument("--appearance-stride", type=int, default=None, help="default: the page's, 1")
    parser.add_argument("--method", default="al", choices=("al", "fgla", "deeplandscape"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds the user looks at the preview before pressing render (default 0)")
    parser.add_argument("--look", type=float, default=0.0,
                        help="seconds the user looks at the mask before pressing preview (default 0; the server "
                             "plans the untouched page's preview meanwhile)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    photo = cv2.resize(np.asarray(Image.open(EXAMPLE).convert("RGB")), (width, height), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG")
    settings = {key: value for key, value in (("mode", args.mode), ("appearance_stride", args.appearance_stride))
                if value is not None}

    server = subprocess.Popen([sys.executable, "-m", "cinescape.cli", "serve", "--method", args.method, "--port", "0",
                               "--quiet"],
                              stdout=subprocess.PIPE, text=True)
    try:
        if not select.select([server.stdout], [], [], 120)[0]:
            raise SystemExit("the server did not start in 120 s")
        base = server.stdout.readline().strip()
        rows = []
        for repeat in range(args.repeat):
            started = time.perf_counter()
            photo_id = request(f"{base}api/photos?name=bench.png", buffer.getvalue(), "POST", "image/png")["id"]
            uploaded = time.perf_counter()
            request(f"{base}api/photos/{photo_id}/mask")
            masked = time.perf_counter()
            time.sleep(args.look)
            preview_s, preview = timed_render(base, photo_id, {**settings, "preview": True}, server.pid)
            second = ""
            if args.method == "deeplandscape":   # the same photo and mask: the inversion is reused
                preview2_s, preview2 = timed_render(base, photo_id, {**settings, "preview": True, "direction": 180},
                                                    server.pid)
                reused = preview2["reused_inversion"]
                second = f"preview2 {preview2_s:.2f} s (direction 180, inversion reused: {reused}), "
            time.sleep(args.think)
            render_s, render = timed_render(base, photo_id, settings, server.pid)
            again_s, again = timed_render(base, photo_id, {**settings, "preview": True}, server.pid)
            with tempfile.TemporaryDirectory() as folder:
                floor_s = measure_floor(photo, render["frames_total"], Path(folder) / "floor.mp4")
            rows.append({"upload_s": uploaded - started, "mask_s": masked - uploaded, "preview_s": preview_s,
                         "preview_server_s": preview["seconds"], "render_s": render_s,
                         "render_server_s": render["seconds"], "again_s": again_s, "floor_s": floor_s,
                         "preview_cpu_s": preview["cpu"], "render_cpu_s": render["cpu"], "again_cpu_s": again["cpu"]})
            print(f"run {repeat + 1}: upload {rows[-1]['upload_s']:.2f} s, mask {rows[-1]['mask_s']:.2f} s, "
                  f"preview {preview_s:.2f} s (server {preview['seconds']:.2f} s, {preview['frames_total']} "
                  f"frames, plan reused: {preview.get('reused_plan')}), {second}render {render_s:.2f} s (server {render['seconds']:.2f} s, "
                  f"{render['frames_total']} frames at {width}x{height}), again {again_s:.2f} s (plan reused: "
                  f"{again.get('reused_plan')}); floor {floor_s:.2f} s", flush=True)
        median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        print(f"median of {len(rows)}: upload {median['upload_s']:.2f} s, mask {median['mask_s']:.2f} s, "
              f"preview {median['preview_s']:.2f} s (server {median['preview_server_s']:.2f} s), "
              f"render {median['render_s']:.2f} s (server {median['render_server_s']:.2f} s) = "
              f"{median['render_s'] / median['floor_s']:.2f}x the floor {median['floor_s']:.2f} s "
              f"(server {median['render_server_s'] / median['floor_s']:.2f}x), "
              f"preview again {median['again_s']:.2f} s; server CPU: preview {median['preview_cpu_s']:.2f} s, render "
              f"{median['render_cpu_s']:.2f} s, again {median['again_cpu_s']:.2f} s; settings "
              f"{settings or 'the page defaults'}, method {args.method}, look {args.look:g} s, "
              f"think {args.think:g} s; load average "
              f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} "
              f"on {os.cpu_count()} CPUs")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
