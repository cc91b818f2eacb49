"""Saving an upload to the data folder as it streams, under a safe name, for the loaders to read."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from fastapi import UploadFile


def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Copy the upload to ``folder`` in chunks; the file keeps its extension (the reader detects by it)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename or "upload").name)[-80:] or "upload"
    path = folder / f"{uuid.uuid4().hex[:12]}-{name}"
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    return path
