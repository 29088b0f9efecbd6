"""``risk_engine.serving``: the listening socket of a multi-worker server makes asyncio switch Nagle's
algorithm off on every connection it accepts (without it each two-part response waits ~40 ms for the
client's delayed ACK)."""

from __future__ import annotations

import asyncio
import socket

from risk_engine.serving import tcp_listener


async def _nodelay_of_accepted_connection(listener: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    listener.listen()
    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        value = await asyncio.wait_for(accepted, timeout=5)
        writer.close()
        return value
    finally:
        server.close()
        await server.wait_closed()


def test_connections_accepted_on_our_listener_have_nagle_off():
    listener = tcp_listener("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP and listener.get_inheritable()
    assert asyncio.run(_nodelay_of_accepted_connection(listener)) != 0


def test_a_listener_bound_as_uvicorn_binds_it_for_workers_keeps_nagle_on():
    # what uvicorn's Config.bind_socket does for --workers > 1: the reason risk_engine.serving exists
    plain = socket.socket(socket.AF_INET)
    plain.bind(("127.0.0.1", 0))
    assert plain.proto == 0
    assert asyncio.run(_nodelay_of_accepted_connection(plain)) == 0


def test_serve_believes_forwarded_headers_only_from_the_proxies_it_is_told_of(monkeypatch):
    """Behind a TLS proxy the console's cookie is Secure only if X-Forwarded-Proto is believed; from
    anyone else it must not be (a client could claim https, or any address)."""
    from typer.testing import CliRunner

    from risk_engine import cli, serving
    from risk_engine.settings import get_settings

    seen: list[dict] = []
    monkeypatch.setattr(serving, "run", lambda app, **options: seen.append(options))
    for value in (None, "10.0.0.5,10.0.0.6"):
        if value is None:
            monkeypatch.delenv("RISK_FORWARDED_ALLOW_IPS", raising=False)
        else:
            monkeypatch.setenv("RISK_FORWARDED_ALLOW_IPS", value)
        get_settings.cache_clear()
        assert CliRunner().invoke(cli.app, ["serve", "--port", "8999"]).exit_code == 0
    get_settings.cache_clear()
    assert seen[0]["proxy_headers"] is False and "forwarded_allow_ips" not in seen[0]
    assert seen[1]["proxy_headers"] is True and seen[1]["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"
