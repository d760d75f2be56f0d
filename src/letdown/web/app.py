"""The web app, built by ``create_app(settings)``: nothing is opened at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from letdown import __version__
from letdown import notify as notify_module
from letdown.errors import InvalidEntryError, LetdownError, NotFoundError
from letdown.journal import Accounts, Journal, NotAllowedError
from letdown.journal.records import FieldValueError, describe_error
from letdown.web import account_pages, api, api_docs, auth, member_settings, pages, pump, pwa
from letdown.web import notices as notices_module
from letdown.web.charts import ChartCache
from letdown.web.insights import InsightsCache
from letdown.web.limiter import LoginLimiter
from letdown.web.live import LiveHub
from letdown.web.mqtt import MqttBridge
from letdown.web.notices import Notices
from letdown.web.problems import errors
from letdown.web.security import BodyLimit, SecurityHeaders
from letdown.web.settings import Settings
from letdown.web.sockets import SocketRegistry, Tickets
from letdown.web.templating import render

STATIC = Path(__file__).parent / "static"


async def _every_minute(notices: Notices) -> None:
    """What ``letdown notify run`` runs, every minute, on the notices' own thread."""
    while True:
        await asyncio.sleep(notices_module.PERIOD_S)
        notices.tick()


def create_app(settings: Settings | None = None, *, journal: Journal | None = None) -> FastAPI:
    """The letdown web app; ``journal`` lets a caller (a test, the demo) share one it opened."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = journal or Journal.open(settings.db)
        app.state.journal = opened
        app.state.accounts = Accounts(opened.engine)
        app.state.hub = LiveHub(opened, settings)
        app.state.insights = InsightsCache(opened)
        app.state.charts = ChartCache()
        bridge = None
        if settings.mqtt:
            bridge = MqttBridge(
                settings.mqtt,
                app.state.hub,
                opened,
                member=settings.mqtt_member,
                prefix=settings.mqtt_prefix,
                configuration_url=settings.public_url,
            )
            bridge.start()
        app.state.mqtt = bridge
        notices = Notices.for_app(opened, app.state.data_folder)
        app.state.notices = notices
        app.state.hub.listeners.append(notices.on_state)
        notices.start()
        ticking = asyncio.create_task(_every_minute(notices))
        try:
            yield
        finally:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
            app.state.hub.close()  # the pump first: it never waits on the broker
            notices.close()
            if bridge is not None:
                bridge.close()
            if journal is None:
                opened.close()

    app = FastAPI(
        title="letdown",
        version=__version__,
        summary="An open smart breast-pump system: live pump control and the household journal.",
        lifespan=lifespan,
        # The API's document and its reference page are for members only (api_docs).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.data_folder = settings.data_folder or notify_module.keys_folder()
    app.state.login_limiter = LoginLimiter(settings.login_attempts, settings.login_window_s)
    app.state.sockets = SocketRegistry()
    app.state.tickets = Tickets()
    _add_error_handlers(app)
    _add_middleware(app, settings)

    app.include_router(
        auth.router, prefix="/api/v1", responses=errors(401, 403, 404, 409, 422, 429)
    )
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(pump.router, prefix="/api/v1")
    app.include_router(pump.pages_router)
    app.include_router(pwa.router)
    app.include_router(account_pages.router)
    app.include_router(member_settings.router)
    app.include_router(api_docs.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for it on every page: a milk drop, not a 404 in every log."""
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon")

    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost last: the proxy's headers are read first (when one is configured), every
    answer gets the security headers, and no body over the limit is read."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, https=settings.secure_cookies)
    if settings.proxy_headers:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)


ERROR_STATUS: dict[type[Exception], int] = {
    InvalidEntryError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    NotAllowedError: status.HTTP_403_FORBIDDEN,
    LetdownError: status.HTTP_409_CONFLICT,
}
"""The journal's errors as HTTP answers (the closest class wins: a NotFoundError is a 404)."""


def _says_what_is_wrong(status_code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code)

    return handler


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _posted_from_a_page(request: Request) -> bool:
    """A form a browser posted (not the API, not a script asking for JSON)."""
    if request.url.path.startswith("/api/"):
        return False
    kind = request.headers.get("content-type", "")
    return _wants_html(request) or kind.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )


def _refusal(detail: str) -> str:
    if detail.endswith(" is a viewer"):
        who = detail.removesuffix(" is a viewer")
        return (
            f"{who} can see the household's journal but not change it (a viewer). A nursing "
            "parent or partner of the household can give another role."
        )
    if "CSRF" in detail:
        return "This form was too old or came from another page: open the page again and resend."
    return detail


def _same_site_referer(request: Request) -> str:
    referer = request.headers.get("referer", "")
    return referer if referer.startswith(str(request.base_url)) else "/"


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is JSON that says what is wrong; a browser that is not logged in goes to
    the login page."""

    for error, status_code in ERROR_STATUS.items():
        app.add_exception_handler(error, _says_what_is_wrong(status_code))

    @app.exception_handler(PydanticValidationError)
    async def invalid_model(request: Request, exc: PydanticValidationError) -> Response:
        return JSONResponse({"detail": describe_error(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {
                "loc": [*error.get("loc", ()), *_field_of(error)],
                "msg": str(error.get("msg", "")).removeprefix("Value error, "),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status.HTTP_303_SEE_OTHER)
        if exc.status_code == status.HTTP_403_FORBIDDEN and _posted_from_a_page(request):
            return render(
                request,
                "refused.html",
                status_code=exc.status_code,
                message=_refusal(str(exc.detail)),
                back=_same_site_referer(request),
            )
        return JSONResponse(
            {"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None)
        )


def _field_of(error: Any) -> list[str]:
    """The field a check across fields found wrong (``FieldValueError``), as more loc."""
    cause = (error.get("ctx") or {}).get("error")
    return cause.field.split(".") if isinstance(cause, FieldValueError) else []
