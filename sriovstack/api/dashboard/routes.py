"""The dashboard's routes: log in (Keystone user and password → a token in an HttpOnly,
SameSite=Strict session cookie), the page, log out (the token is revoked)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sriovstack.api.context import services_of
from sriovstack.api.dashboard.page import cloud_page, login_page
from sriovstack.api.services import Services
from sriovstack.errors import Unauthorized
from sriovstack.identity import (DEFAULT_DOMAIN_ID, IssuedToken, NameRef, PasswordAuth, Token,
                                 policy)

__all__ = ["router", "COOKIE"]

router = APIRouter()
COOKIE = "sriovstack_session"


def _session(request: Request) -> tuple[Services, Token | None]:
    services = services_of(request)
    secret = request.cookies.get(COOKIE)
    if not secret:
        return services, None
    try:
        return services, services.identity.tokens.validate(secret)
    except Unauthorized:  # expired or revoked: log in again
        return services, None


@router.get("/dashboard", include_in_schema=False)
def show_dashboard(request: Request) -> HTMLResponse:
    """200 the page for a valid session cookie, else the login form."""
    services, token = _session(request)
    if token is None:
        return HTMLResponse(login_page())
    caller = policy.caller_of(token)
    view = services.compute.host_devices.view_for(caller)
    return HTMLResponse(cloud_page(view, token.user.name,
                                   token.project.name if token.project else None,
                                   policy.is_privileged(caller)))


def _password_login(services: Services, form: dict[str, str]) -> IssuedToken | str:
    """A token for the form's user, password and project, or why not."""
    missing = [k for k in ("username", "password", "project") if not form.get(k)]
    if missing:
        return f"fill in {', '.join(missing)}"
    auth = PasswordAuth(NameRef(name=form["username"], domain_id=DEFAULT_DOMAIN_ID),
                        form["password"])
    try:
        return services.identity.tokens.issue_password(
            auth, NameRef(name=form["project"], domain_id=DEFAULT_DOMAIN_ID))
    except Unauthorized:
        return "wrong user, password or project"


@router.post("/dashboard/login", include_in_schema=False)
async def create_session(request: Request) -> Response:
    """303 to /dashboard with the session cookie; 401 and the form again on failure."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    form = {k: v[0] for k, v in fields.items() if v}
    issued = _password_login(services_of(request), form)
    if isinstance(issued, str):
        return HTMLResponse(login_page(issued), status_code=401)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(COOKIE, issued.secret, httponly=True, samesite="strict",
                        path="/dashboard",
                        max_age=int((issued.token.expires_at - issued.token.issued_at)
                                    .total_seconds()))
    return response


@router.post("/dashboard/logout", include_in_schema=False)
def delete_session(request: Request) -> Response:
    """303 to /dashboard (the login form) with the cookie cleared and its token revoked."""
    services, token = _session(request)
    if token is not None:
        services.identity.tokens.revoke(policy.caller_of(token), request.cookies[COOKIE])
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response
