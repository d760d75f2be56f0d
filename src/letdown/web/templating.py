"""One Jinja2 environment for every page, with what every page needs in its context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from letdown.journal import Identity

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


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
