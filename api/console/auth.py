"""Who is at the console: the session cookie, the language cookie, CSRF checks on every POST.

``ConsoleOfficer`` is the console's typed permission (as ``api.auth.OfficerClient`` is the API's): a page
that declares it gets the logged-in risk officer or admin, or the visitor is sent to the login page.
``CheckedForm`` is the posted form after its CSRF token was checked; every POST route takes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.auth import Principal
from api.console import sessions
from api.console.i18n import LANG_COOKIE, Translator, choose_language
from api.deps import DbSession
from risk_engine.db import utcnow

SESSION_COOKIE = "risk_console"
PRELOGIN_COOKIE = "risk_console_pre"
COOKIE_PATH = "/console"


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Exception):
    """A POST without the right CSRF token: answered with a friendly 403 page, nothing changed."""


def clock(request: Request):  # noqa: ANN201
    return getattr(request.app.state, "clock", utcnow)


def safe_next(path: str | None, default: str = "/console/reviews") -> str:
    """Only a path inside the console: never another site (an open redirect)."""
    if not path or not path.startswith("/console") or path.startswith("//") or "\\" in path:
        return default
    if path.startswith(("/console/login", "/console/logout")):
        return default
    return path


def language(request: Request) -> Translator:
    return Translator(
        choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )


@dataclass(frozen=True)
class Officer:
    principal: Principal
    token: str
    t: Translator
    started: float

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.token)

    @property
    def actor(self) -> str:
        return self.principal.actor

    @property
    def is_admin(self) -> bool:
        return self.principal.role == "admin"


def current_officer(request: Request, session: DbSession) -> Officer:
    started = time.perf_counter()
    token = request.cookies.get(SESSION_COOKIE)
    principal = sessions.principal_for(session, token, now=clock(request)())
    if principal is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path if request.method == "GET" else request.headers.get("referer", ""))
    request.state.principal = principal
    return Officer(principal, token, language(request), started)


ConsoleOfficer = Annotated[Officer, Depends(current_officer)]


async def checked_form(request: Request, officer: ConsoleOfficer) -> FormData:
    form = await request.form()
    if not sessions.csrf_valid(officer.token, _field(form, "csrf_token")):
        raise CsrfRejected()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def form_text(form: FormData, name: str) -> str:
    return (_field(form, name) or "").strip()


async def redirect_to_login(request: Request, exc: LoginRequired) -> Response:
    target = "/console/login"
    nxt = safe_next(_path_of(exc.next_path), "")
    if nxt:
        target += "?next=" + quote(nxt, safe="/")
    response = RedirectResponse(target, status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _path_of(url_or_path: str) -> str:
    if url_or_path.startswith("/"):
        return url_or_path
    if "://" in url_or_path:
        rest = url_or_path.split("://", 1)[1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else ""
    return ""


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


async def refuse_forged_form(request: Request, exc: CsrfRejected) -> Response:
    from api.console.rendering import render

    t = language(request)
    back = safe_next(_path_of(request.headers.get("referer", "")))
    return render(
        request,
        "error.html",
        t=t,
        status_code=403,
        title=t("error.forbidden"),
        detail=t("csrf.failed"),
        back=back,
    )
