"""``serve()``: the web app on a local port with uvicorn, for ``cinescape serve``."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import webbrowser

import uvicorn

from ..errors import CinescapeError
from .app import create_app

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]"}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a one-line error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise CinescapeError(f"cannot serve on {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise CinescapeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def page_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"  # where this machine's browser finds it
    return f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 0, *, open_browser: bool = False, method: str | None = None,
          model: str | None = None, quiet: bool = False) -> None:
    """Load the pipeline once (the model folder ``model``, or the shipped model of ``method``: ``"al"`` (default),
    ``"fgla"``, ``"deeplandscape"``), print the page's URL on stdout (one line) and serve until Ctrl+C / SIGTERM.

    ``port=0`` takes a free port. A loopback ``host`` only answers requests addressed to a loopback name (see
    :class:`~cinescape.web.app._LocalPageMiddleware`); another host is reachable from the network, which gets a
    warning. On exit the queued renders are cancelled, the running one stops between frames, and every
    uploaded photo and rendered video is deleted.
    """
    from ..methods.select import load_method_pipeline

    if not 0 <= port <= 65535:
        raise CinescapeError(f"port must be between 0 and 65535, got {port}")
    pipeline = load_method_pipeline(method, model)   # FGLA's per-region options are cinescape animate's only
    sock = _listen(host, port)
    if _is_loopback(host):
        given = host.lower() if not (":" in host and not host.startswith("[")) else f"[{host.lower()}]"
        trusted = LOOPBACK_NAMES | {given}   # names without the port: the middleware strips it
    else:
        trusted = None
        print(f"cinescape serve: warning: listening on {host}, not a loopback address: anyone who can reach this "
              "machine can upload photos and run renders", file=sys.stderr)
    app = create_app(pipeline, trusted_hosts=trusted)
    service = app.state.service

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # End the event streams and the running render now, so that shutdown does not wait for them. In a
            # thread: this handler interrupts the main thread, which may hold the service's lock at that moment.
            threading.Thread(target=service.stop, name="cinescape-stop").start()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=3,
                            lifespan="on")
    server = Server(config)
    url = page_url(sock)
    print(url, flush=True)
    if not quiet:
        print("cinescape serve: open the address above in a browser; Ctrl+C stops the server and deletes its files",
              file=sys.stderr, flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.close()  # idempotent: the lifespan closed it already unless startup failed


__all__ = ["page_url", "serve"]
