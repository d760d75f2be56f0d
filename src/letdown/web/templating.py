"""One Jinja2 environment for every page, with what every page needs in its context."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from letdown import __version__
from letdown.journal import Identity

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=1)
def asset_stamp() -> str:
    """The version and a digest of every file under /static: a phone's kept copies (and
    the service worker's caches) are refreshed whenever one of them changes, not only
    when the version number does."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{__version__}-{digest.hexdigest()[:12]}"


@pass_context
def static(context: Context, path: str) -> str:
    """The address of a file under /static, stamped to refresh caches (``asset_stamp``).

    Starlette's ``url_for`` would do, at a quarter of the dashboard's time: it searches
    every route for the name on each call.
    """
    root = context["request"].scope.get("root_path", "")
    return f"{root}/static/{quote(path)}?v={asset_stamp()}"


def path_segment(value: object) -> str:
    """A value made safe as one segment of a path: a ``/``, ``?`` or ``#`` in it is encoded."""
    return quote(str(value), safe="")


templates.env.globals["static"] = static
templates.env.filters["path_segment"] = path_segment


def render(
    request: Request,
    name: str,
    who: Identity | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page, with the member and their CSRF token for its forms."""
    return templates.TemplateResponse(
        request,
        name,
        {"who": who, "csrf": who.csrf_token if who else None, **context},
        status_code=status_code,
    )
