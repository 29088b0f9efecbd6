"""Log in, log out, switch language."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.console import sessions
from api.console.auth import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    ConsoleOfficer,
    clear_session_cookie,
    clock,
    language,
    safe_next,
    set_session_cookie,
)
from api.console.i18n import LANG_COOKIE, LANGUAGES
from api.console.rendering import render
from api.deps import DbSession

router = APIRouter()


def _login_page(
    request: Request,
    *,
    pre_token: str,
    next_path: str,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    response = render(
        request,
        "login.html",
        t=language(request),
        csrf=sessions.csrf_token(pre_token),
        next_path=next_path,
        message=message,
        error=error,
        status_code=status_code,
    )
    response.set_cookie(
        PRELOGIN_COOKIE,
        pre_token,
        max_age=3600,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/console/login")
def login_form(request: Request, session: DbSession, next: str | None = None, bye: int = 0) -> Response:
    if sessions.principal_for(session, request.cookies.get(SESSION_COOKIE), now=clock(request)()) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    t = language(request)
    pre_token = request.cookies.get(PRELOGIN_COOKIE) or secrets.token_urlsafe(32)
    message = t("login.logged_out") if bye else None
    return _login_page(request, pre_token=pre_token, next_path=safe_next(next), message=message)


@router.post("/console/login")
def login(
    request: Request,
    session: DbSession,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    t = language(request)
    pre_token = request.cookies.get(PRELOGIN_COOKIE)
    if not sessions.csrf_valid(pre_token, csrf_token):
        return _login_page(
            request,
            pre_token=secrets.token_urlsafe(32),
            next_path=safe_next(next),
            error=t("csrf.failed"),
            status_code=403,
        )
    try:
        opened = sessions.open_session(session, api_key, now=clock(request)())
        session.commit()
    except sessions.LoginRefused as exc:
        session.rollback()
        error = t("login.role_refused") if exc.code == "role_not_allowed" else t("login.refused")
        return _login_page(
            request, pre_token=pre_token, next_path=safe_next(next), error=error, status_code=401
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request, opened.token, int(sessions.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(PRELOGIN_COOKIE, path="/console")
    return response


@router.post("/console/logout")
def logout(request: Request, officer: ConsoleOfficer, form: CheckedForm, session: DbSession) -> Response:
    sessions.close_session(session, officer.token, now=clock(request)())
    session.commit()
    response = RedirectResponse("/console/login?bye=1", status_code=303)
    clear_session_cookie(response)
    return response


@router.post("/console/language")
def switch_language(
    request: Request,
    lang: Annotated[str, Form(max_length=8)] = "en",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Either the session's or the pre-login CSRF token will do: both are secrets of this browser."""
    ok = any(
        sessions.csrf_valid(request.cookies.get(name), csrf_token)
        for name in (SESSION_COOKIE, PRELOGIN_COOKIE)
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    if ok and lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path="/",
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
