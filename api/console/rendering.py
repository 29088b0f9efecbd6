"""Templates: one Jinja environment (autoescaped), the console's filters, and ``render``.

Every page gets ``t`` (the translator), ``officer``, ``csrf`` (for its forms) and ``path``; the footer
shows the server time the page took, and the same figure goes out as a ``Server-Timing`` header.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api.console import formatting
from api.console.auth import Officer
from api.console.i18n import LANGUAGES, Translator

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
env.filters.update(
    money=formatting.money,
    percent=formatting.percent,
    number=formatting.number,
    when=formatting.when,
    short_hash=formatting.short_hash,
    feature_value=formatting.feature_value,
    svg=Markup,  # charts are built (and escaped) by api.console.charts
)


def render(
    request: Request,
    template: str,
    *,
    officer: Officer | None = None,
    t: Translator | None = None,
    csrf: str = "",
    status_code: int = 200,
    started: float | None = None,
    **context: Any,
) -> HTMLResponse:
    started = started if started is not None else (officer.started if officer else time.perf_counter())
    translator = t or (officer.t if officer else Translator("en"))

    def elapsed_ms() -> str:
        return f"{(time.perf_counter() - started) * 1000:.0f}"

    html = env.get_template(template).render(
        t=translator,
        lang=translator.lang,
        languages=LANGUAGES,
        officer=officer,
        csrf=officer.csrf if officer else csrf,
        path=request.url.path,
        full_path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        elapsed_ms=elapsed_ms,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response
