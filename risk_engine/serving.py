"""Serving an ASGI app with uvicorn, one process or several.

With ``workers > 1`` uvicorn binds the listening socket itself as ``socket.socket(family)``, whose
``proto`` is 0; asyncio only turns Nagle's algorithm off (``TCP_NODELAY``) on connections accepted from a
socket whose ``proto`` is ``IPPROTO_TCP``. Every response written in two parts (headers, then body) then
waits for the client's delayed ACK: about 40 ms per request on Linux, which capped a trivial endpoint at
~360 req/s with 2 workers against ~2,100 with one. ``run`` binds the socket with ``IPPROTO_TCP`` and
hands it to uvicorn's own multi-process supervisor, so several workers answer as fast as one.

    python -m risk_engine.serving api.main:app --workers 2 --port 8000
"""

from __future__ import annotations

import argparse
import socket
from typing import Any


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that child processes can inherit, ``proto=IPPROTO_TCP``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run(app: str, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, **options: Any) -> None:
    """Serve ``app`` (an import string, ``module:attribute``) with uvicorn; ``options`` go to
    ``uvicorn.Config`` (``factory``, ``log_level``, ``access_log``...)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[tcp_listener(host, port)]).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="serve an ASGI app with uvicorn (see the module's docstring)")
    parser.add_argument("app", help="module:attribute")
    parser.add_argument("--factory", action="store_true", help="the attribute is a function returning the app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    run(args.app, host=args.host, port=args.port, workers=args.workers, factory=args.factory,
        log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
