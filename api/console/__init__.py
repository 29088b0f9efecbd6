"""The risk-officer console: server-rendered pages over the same services the API calls.

``install(app)`` mounts the pages at ``/console``, the static files at ``/console/static``, the
background verifier of the audit trail (``verification.TrailVerifier``) and the
handlers that send a visitor without a session to the login page and answer a forged form (a POST
without its CSRF token) with a 403 page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from api.console import auth, router
    from api.console.verification import TrailVerifier
    from risk_engine.db import utcnow

    app.state.console_verifier = TrailVerifier(
        app.state.db, app.state.keys.public_jwks, clock=lambda: getattr(app.state, "clock", utcnow)()
    )

    app.state.console_pd_references = {}  # the model page's training PD distributions, by content hash
    app.include_router(router.router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(auth.LoginRequired, auth.redirect_to_login)
    app.add_exception_handler(auth.CsrfRejected, auth.refuse_forged_form)
