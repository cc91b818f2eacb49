"""Request size limits, enforced while the body streams in (no upload is read whole before it is checked)."""

from __future__ import annotations

import json


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, by Content-Length or, when chunked, by counting."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._too_large(send)
        seen = 0
        started = False
        over = False

        async def counted_receive():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    return {"type": "http.disconnect"}  # the app stops reading; we answer 413 below
            return message

        async def tracked_send(message):
            nonlocal started
            if over and not started:
                return  # whatever the app says after the cut, the client gets the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not over:  # a real error, not our cut: let it surface
                raise
        if over and not started:
            await self._too_large(send)

    async def _too_large(self, send):
        body = json.dumps({"detail": f"request body over the limit of {self.max_bytes:,} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
