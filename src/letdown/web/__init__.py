"""The web app: a partner runs the pump from their phone, and the household sees everything.

``create_app(settings)`` builds it (``letdown serve`` runs it with Uvicorn). Routers:
``auth`` (accounts), ``api`` (the journal under ``/api/v1``), ``pump`` (live sessions,
``/api/v1/pump``), ``pages`` and ``account_pages`` (HTML for phones).
"""

from letdown.web.app import create_app
from letdown.web.settings import Settings

__all__ = ["Settings", "create_app"]
