"""Browser tests: the console in headless Debian Chromium, driven by Playwright's Python package.

The browser is the Debian ``chromium`` package at /usr/bin/chromium (never a downloaded one: there is no
``playwright install``). Without it, or without the ``playwright`` package, the tests skip with the reason
shown — except under CI, where ``RISK_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a
failure. The app runs in uvicorn on a free 127.0.0.1 port, in a thread, against its own SQLite database.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("RISK_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("RISK_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing_browser() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return (
            f"browser tests skipped: no Chromium at {CHROMIUM} "
            "(install Debian's package: apt-get install -y chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: the playwright package is missing (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    app: object
    db: object


@pytest.fixture(scope="module")
def browser():
    reason = _missing_browser()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"RISK_REQUIRE_BROWSER=1 but {reason.removeprefix('browser tests skipped: ')}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def live_server(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from api.app import create_app
    from risk_engine import migrations
    from risk_engine.db import Database
    from risk_engine.settings import Settings

    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'console.db'}"
    migrations.upgrade(url)
    db = Database(url)
    app = create_app(settings=Settings(env="test", keys_dir=tmp / "keys"), database=db)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", app, db)
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


@pytest.fixture
def page_factory(browser):
    contexts = []

    def new_page(lang: str = "en-GB"):
        context = browser.new_context(locale=lang, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
