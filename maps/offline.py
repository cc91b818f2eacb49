"""Making a Folium map self-contained: Leaflet inlined, no CDN, no tiles needed.

Folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs. A commander's laptop on a
force network may reach none of them, and a map that needs the internet to draw is no map. So
the rendered page gets Leaflet and Leaflet.markercluster inlined from ``maps/assets`` (vendored
from the npm registry, licences beside them), Leaflet's images as data URIs, and every other
CDN link removed: nothing the map draws uses them.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent / "assets"
_INLINE_JS = {"leaflet.js": "leaflet.js", "leaflet.markercluster.js": "leaflet.markercluster.js"}
_INLINE_CSS = {"leaflet.css": "leaflet.css", "MarkerCluster.css": "MarkerCluster.css",
               "MarkerCluster.Default.css": "MarkerCluster.Default.css"}
_SCRIPT = re.compile(r'<script src="([^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="([^"]+)"/>')
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


@lru_cache(maxsize=8)
def _asset(name: str) -> str:
    text = (ASSETS / name).read_text(encoding="utf-8")
    text = _SOURCE_MAP.sub("", text)  # no .map file ships, so no browser should go looking for one
    if name == "leaflet.css":
        for image in sorted((ASSETS / "images").glob("*.png")):
            uri = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode("ascii")
            text = text.replace(f"images/{image.name}", uri)
    return text


def make_offline(html: str) -> str:
    """Inline the vendored assets in place of Folium's CDN links and drop the links not needed."""

    def script(match: re.Match) -> str:
        name = match.group(1).rsplit("/", 1)[-1]
        return f"<script>{_asset(_INLINE_JS[name])}</script>" if name in _INLINE_JS else ""

    def link(match: re.Match) -> str:
        name = match.group(1).rsplit("/", 1)[-1]
        return f"<style>{_asset(_INLINE_CSS[name])}</style>" if name in _INLINE_CSS else ""

    html = _SCRIPT.sub(script, html)
    return _LINK.sub(link, html)


def png_rgba(pixels: np.ndarray) -> bytes:
    """Encode an (height, width, 4) uint8 array as a PNG, with zlib only (no imaging library)."""
    height, width, _ = pixels.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * 4)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
            + chunk(b"IEND", b""))


def data_uri_png(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_rgba(pixels)).decode("ascii")
