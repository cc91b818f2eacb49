"""Response headers: the security headers every response gets, and the page policies that relax them."""

import base64
import hashlib
import re

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_SECURITY_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware: each of :data:`SECURITY_HEADERS` added to every response that does not set
    it itself. Plain ASGI, not Starlette's ``BaseHTTPMiddleware``, which passes every response body
    through a stream of its own, in a task of its own: costly for a 650 kB roster under load."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_RAW if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: The weekly map is one self-contained page: its own inline code and styles, no network. Only its own
#: script elements run, by hash: an event handler in markup smuggled in through the data (``<img
#: onerror=...>`` in a popup) is refused by the browser. The page runs sandboxed (an origin of its own),
#: so nothing in it could act as the signed-in reader.
_MAP_POLICY = ("default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data:; "
               "font-src data:; frame-ancestors {ancestors}; sandbox allow-scripts")
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def map_headers(page: str, framed: bool = False) -> dict[str, str]:
    """The headers of a weekly map page: a CSP allowing exactly the page's own inline scripts (by
    SHA-256) and, with ``framed``, framing by this site's pages (the commander's page)."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
                     for body in _SCRIPT.findall(page)}) or ["'none'"]
    policy = _MAP_POLICY.format(hashes=" ".join(hashes), ancestors="'self'" if framed else "'none'")
    return {"Content-Security-Policy": policy} | ({"X-Frame-Options": "SAMEORIGIN"} if framed else {})


#: Printable pages (briefings, evaluation reports): inline styles and SVG, no scripts at all.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

#: The web pages: their own stylesheet and script only, the weekly map framed from this site, forms
#: posted only to this site.
WEB_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
           "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

#: Rosters are operationally sensitive: nothing between the service and the reader may keep a copy.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
