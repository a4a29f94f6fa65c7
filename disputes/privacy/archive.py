"""ZIP files of records: a JSON index, the stored documents, and a manifest of SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO, Any

from ..models import Attachment
from .records import document_path

# Up to this size the ZIP is built in memory, beyond it in a temporary file.
_IN_MEMORY = 16 * 1024 * 1024


def dumps(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True).encode()


def write_zip(
    files: dict[str, bytes], documents: Iterable[Attachment]
) -> tuple[IO[bytes], dict[str, str]]:
    """The ZIP (rewound, ready to send) and the SHA-256 of each file in it, which it also holds
    as `manifest.json`."""
    hashes: dict[str, str] = {}
    archive = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115 (returned open)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, content in files.items():
            zipped.writestr(name, content)
            hashes[name] = hashlib.sha256(content).hexdigest()
        for attachment in documents:
            name = document_path(attachment)
            digest = hashlib.sha256()
            with attachment.file.open("rb") as source, zipped.open(name, "w") as target:
                while chunk := source.read(1024 * 1024):
                    digest.update(chunk)
                    target.write(chunk)
            hashes[name] = digest.hexdigest()
        zipped.writestr("manifest.json", dumps({"sha256": hashes}))
    archive.seek(0)
    return archive, hashes
