"""Saving an upload to the data folder as it streams, under a safe name, for the loaders to read."""

from __future__ import annotations

import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from hotspots.core.errors import HotspotsError


def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Copy the upload to ``folder`` in chunks; the file keeps its extension (the reader detects by it)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename or "upload").name)[-80:] or "upload"
    path = folder / f"{uuid.uuid4().hex[:12]}-{name}"
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    return path


@contextmanager
def as_uploaded(saved: Path, filename: str | None):
    """User errors about ``saved`` name the file as the client sent it, never the server's copy or folder."""
    try:
        yield
    except HotspotsError as exc:
        client = Path(filename or saved.name).name
        message = str(exc).replace(str(saved), client).replace(saved.name, client)
        raise type(exc)(message, arguments=exc.arguments) from None
