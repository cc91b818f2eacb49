"""Response headers: the security headers every response gets, and the page policies that relax them."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}

#: The weekly map is one self-contained page: its own inline code and styles, no network. It runs
#: sandboxed (an origin of its own), so even a script that got into it could not act as the reader.
MAP_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
           "font-src data:; frame-ancestors 'none'; sandbox allow-scripts")

#: Printable pages (briefings, evaluation reports): inline styles and SVG, no scripts at all.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

#: The web pages: their own stylesheet and script only, the weekly map framed from this site, forms
#: posted only to this site.
WEB_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
           "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

#: The weekly map as the commander's page frames it: the map's own policy, framed by this site only.
FRAMED_MAP = {"Content-Security-Policy": MAP_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'"),
              "X-Frame-Options": "SAMEORIGIN"}

#: Rosters are operationally sensitive: nothing between the service and the reader may keep a copy.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
