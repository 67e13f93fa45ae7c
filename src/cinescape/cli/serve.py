"""``cinescape serve``: the local web page (:mod:`cinescape.web`)."""

from __future__ import annotations

import argparse

from ..errors import CinescapeError
from .options import add_method_argument, _non_negative_int


def add_parser(commands) -> None:
    serve = commands.add_parser(
        "serve", help="a local web page: upload a photo, paint what moves, draw arrows (AL), preview, render",
        description="Serve a web page to animate photos with the mouse (needs the web extra: "
                    "pip install -e \".[web]\"). Prints the page's address; Ctrl+C stops the server and deletes "
                    "every uploaded photo and rendered video.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes the page "
                            "to the network)")
    serve.add_argument("--port", type=_non_negative_int, default=0, help="port (default 0: a free one)")
    serve.add_argument("--open", action="store_true", help="open the page in the default browser")
    add_method_argument(serve, "the shipped model of this method (default al); the page shows its controls. "
                              "deeplandscape: mask, direction, speed and lighting; each photo is inverted into the "
                              "GAN once (tens of seconds, shown as 'inverting') and its later previews and renders "
                              "reuse that. With --model DIR the folder's pipeline.json says the method (--method, if "
                              "given, must agree)")
    serve.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the shipped model)")
    serve.add_argument("-q", "--quiet", action="store_true", help="print only the address")


def run_serve(args: argparse.Namespace) -> None:
    from ..methods import method_of, pipeline_class
    from ..methods.select import model_folder
    from ..web import INSTALL_HINT, check_web_pipeline, missing_web_packages

    cls = pipeline_class(model_folder(args.method, args.model))   # before loading anything (pipeline.json)
    if args.method is not None and method_of(cls) != args.method:
        raise CinescapeError(f"--model {args.model} is a model of method {method_of(cls)}, not {args.method}")
    check_web_pipeline(cls)

    missing = missing_web_packages()
    if missing:
        raise CinescapeError(f"cinescape serve needs {' and '.join(missing)}: {INSTALL_HINT}")
    from ..web.server import serve

    serve(args.host, args.port, open_browser=args.open, method=args.method, model=args.model, quiet=args.quiet)

