"""The document store: files under generated names, outside any served folder."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_KEY = re.compile(r"^[a-z]+(/[a-z0-9][a-z0-9._-]*)+$")


class DocumentStore:
    """Content-addressed uploads (`put`) and fixed keys for generated files (`put_at`)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def put(self, data: bytes, *, prefix: str = "uploads") -> str:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{prefix}/{digest[:2]}/{digest}"
        if not self.exists(key):
            self.put_at(key, data)
        return key

    def put_at(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        # a key no file could have (from a bad event, say) is simply not there: callers answer 404, not 500
        if not self.valid(key):
            return False
        return self.path(key).is_file()

    @staticmethod
    def valid(key: str) -> bool:
        return isinstance(key, str) and bool(_KEY.match(key)) and ".." not in key

    def path(self, key: str) -> Path:
        if not self.valid(key):
            raise ValueError(f"invalid document key {key!r}")
        return self.root / key
