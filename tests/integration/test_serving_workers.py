"""`risk-engine serve --workers 2`: every worker writes its JSON log lines, and /metrics counts the requests
of all of them (prometheus_client's multi-process mode), whichever worker answers the scrape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
        return response.read().decode()


def test_two_workers_log_every_request_and_metrics_count_them_all(tmp_path):
    env = {**os.environ, "RISK_DATABASE_URL": f"sqlite:///{tmp_path / 'risk.db'}",
           "RISK_KEYS_DIR": str(tmp_path / "keys"), "RISK_MODELS_DIR": str(tmp_path / "models")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = [sys.executable, "-m", "risk_engine.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        for _ in range(29):
            _get(f"http://127.0.0.1:{port}/healthz")
        metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert 'risk_http_requests_total{method="GET",route="/healthz",status="200"} 30.0' in metrics
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("msg") == "request" and line.get("route") == "/healthz"]
    assert len(requests) == 30  # not only the parent's: the workers log too
