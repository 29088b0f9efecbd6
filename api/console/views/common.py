"""What the pages share: flash messages after a redirect, and friendly error pages (the console shows
a sentence, never a problem+json document)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.console.auth import Officer
from api.console.i18n import Translator
from api.console.rendering import render

# Messages a redirect may ask for (``?done=key``): only these, so a link cannot put words on the page.
FLASHES = frozenset(
    {
        "resolve.done",
        "resolve.pending",
        "resolve.assigned",
        "second.approved",
        "second.rejected",
        "audit.signed",
        "audit.verifying",
        "alert.resolved",
    }
)

_TITLES = {403: "error.forbidden", 404: "common.not_found", 409: "error.conflict", 422: "error.invalid"}


def validation_message(error: dict[str, Any], t: Translator) -> str:
    """One pydantic error of a form, as a sentence naming the field."""
    field = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    if field == "limit":
        return t("resolve.limit_invalid")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def flash_from(t: Translator, done: str | None) -> str | None:
    return t(done) if done in FLASHES else None


def friendly_error(
    request: Request, officer: Officer, status: int, detail: str, *, back: str | None = None
) -> Response:
    t = officer.t
    return render(
        request,
        "error.html",
        officer=officer,
        status_code=status,
        title=t(_TITLES.get(status, "common.error")),
        detail=detail,
        back=back,
    )
