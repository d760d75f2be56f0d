"""The installable app: its manifest, its icons and its service worker.

The service worker (``static/sw.js``, hand-written, no library) is served from the site's
root so that its scope is the whole app; it keeps a copy of each page read, for reading
offline, and sends a quick log that could not reach the server to the phone's outbox
(``static/outbox.js``, IndexedDB), from which ``app.js`` sends it when the phone is back.
Icons are drawn here (a drop on the app's colours) rather than shipped as binary files.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse, Response

from letdown.web.templating import asset_stamp

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
ICON_SIZES = (192, 512)
BACKGROUND = (0x12, 0x14, 0x19)
"""The app's dark background (``--bg`` in app.css)."""
ACCENT = (0x7C, 0xC4, 0xFF)
"""The app's accent (``--accent``)."""
NO_STORE = {"Cache-Control": "no-cache"}


def manifest() -> dict[str, object]:
    """The web app manifest: what the phone shows when the app is added to its home screen."""
    return {
        "name": "letdown",
        "short_name": "letdown",
        "description": "The pump, the journal and the stash, for the whole household.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#121419",
        "theme_color": "#121419",
        "icons": [
            {
                "src": f"/icons/icon-{size}.png",
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in ICON_SIZES
        ],
    }


@router.get("/manifest.webmanifest")
def get_manifest() -> Response:
    return JSONResponse(manifest(), media_type="application/manifest+json")


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, at the root so that it may look after every page.

    Its caches are named after the static files' stamp, so that a new letdown (or any
    change to those files) drops the old pages and files.
    """
    script = (STATIC / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", asset_stamp())
    return Response(script, media_type="text/javascript", headers=NO_STORE)


@router.get("/icons/icon-{size}.png")
def icon(size: int) -> Response:
    if size not in ICON_SIZES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no icon of {size} pixels")
    return Response(draw_icon(size), media_type="image/png")


@lru_cache(maxsize=len(ICON_SIZES))
def draw_icon(size: int) -> bytes:
    """A drop of milk in the accent colour on the app's background, as a PNG.

    The drop sits inside the middle 60%, so that a phone's round or squircle mask
    ("maskable") never cuts it.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    cx, cy, radius = 0.5, 0.58, 0.19
    round_part = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
    # The point: between the circle's tangents, up to a tip at 0.22 of the height.
    tip = 0.22
    height = cy - tip
    half_width = radius * (y - tip) / height
    point = (y >= tip) & (y <= cy) & (np.abs(x - cx) <= half_width)
    drop = round_part | point
    pixels = np.empty((size, size, 3), dtype=np.uint8)
    pixels[:] = BACKGROUND
    pixels[drop] = ACCENT
    return _png(pixels)


def _png(pixels: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``pixels`` (height x width x 3)."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


__all__ = ["draw_icon", "manifest", "router"]
