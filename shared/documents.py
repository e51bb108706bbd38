"""The document store: files under generated names, outside any served folder, encrypted at rest.

Each stored object is `NIPDOC\\x01`, the length and id of the key it is encrypted under, a 96-bit nonce,
and the AES-256-GCM ciphertext of the document. The associated data binds the header and the document's
key (its path in the store), so a file edited, or moved under another document's name, is refused. Keys
come from `DOCUMENTS_KEYS` (`kid1:base64key,kid0:oldkey`, the first one encrypts, all of them decrypt);
embedded mode generates one under var/ (shared/config.py). Uploads are named by an HMAC of their content
with a key derived from the current documents key, so a file's name does not reveal a known document
either (a plain sha256 would: anyone holding a CV could test whether it is in the store). A file without
the header is refused (`DocumentNotEncrypted`): whoever can write to the store could otherwise put a document
of their own in place of an encrypted one. While documents stored before encryption are being encrypted,
`DOCUMENTS_ALLOW_PLAINTEXT=1` reads them as they are (default off):

    DOCUMENTS_ALLOW_PLAINTEXT=1 python -m shared.documents rotate     # encrypt them under the current key
    python -m shared.documents rotate                                 # re-encrypt every document under it
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_KEY = re.compile(r"^[a-z]+(/[a-z0-9][a-z0-9._-]*)+$")
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAGIC = b"NIPDOC\x01"
NONCE_BYTES = 12
KEY_BYTES = 32
ENV = "DOCUMENTS_KEYS"
PLAINTEXT_ENV = "DOCUMENTS_ALLOW_PLAINTEXT"


class DocumentKeyError(RuntimeError):
    """The documents key is missing, malformed, or not the one a document was encrypted under."""


class DocumentTampered(RuntimeError):
    """A stored document failed its authentication: edited, truncated, or moved under another name."""


class DocumentNotEncrypted(DocumentTampered):
    """A stored document has no encryption header, and plaintext documents are not allowed (the default)."""


def plaintext_allowed() -> bool:
    """Whether documents stored before encryption are read as they are: only during the migration window."""
    return os.environ.get(PLAINTEXT_ENV, "").strip().lower() in ("1", "true", "yes")


def new_documents_key() -> str:
    """A `kid:base64key` entry for DOCUMENTS_KEYS: a fresh AES-256 key under a new key id."""
    return f"k{secrets.token_hex(4)}:{base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


@dataclass(frozen=True)
class Keyring:
    """The documents keys by id; the first one encrypts."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)  # never in a log line or a traceback

    @property
    def current(self) -> str:
        return self.keys[0][0]

    def key(self, kid: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == kid:
                return key
        raise DocumentKeyError(f"a document is encrypted under key id {kid!r}, which {ENV} does not hold")

    def name_key(self) -> bytes:
        """The HMAC key that names uploads by their content, derived so it cannot decrypt anything."""
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                    info=b"nip documents: content names").derive(self.keys[0][1])


@lru_cache(maxsize=8)
def parse_keys(value: str | None, env: str = ENV) -> Keyring:
    """`kid1:base64key,kid0:oldkey` → Keyring; DocumentKeyError naming the problem (and `env`) otherwise."""
    if not value or not value.strip():
        raise DocumentKeyError(f"{env} is not set (generate one with `python -m shared.keys`)")
    keys: list[tuple[str, bytes]] = []
    for number, entry in enumerate(value.split(","), start=1):
        kid, sep, encoded = entry.strip().partition(":")
        if not sep or not _KID.match(kid):
            raise DocumentKeyError(f"{env}: entry {number} is not `keyid:base64key` (key id: letters, digits, - or _)")
        # either base64 alphabet, padding optional
        encoded = encoded.strip().replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise DocumentKeyError(f"{env}: key {kid!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise DocumentKeyError(f"{env}: key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        if any(kid == seen for seen, _ in keys):
            raise DocumentKeyError(f"{env}: key id {kid!r} appears twice")
        keys.append((kid, key))
    return Keyring(tuple(keys))


def _settings_keys() -> str | None:
    from shared.config import Settings

    return Settings.from_env().documents_keys


class DocumentStore:
    """Content-addressed uploads (`put`) and fixed keys for generated files (`put_at`), encrypted."""

    def __init__(self, root: Path | str, *, keys: str | None = None, allow_plaintext: bool | None = None):
        self.root = Path(root)
        # callers that only know the folder get the process's settings' keys, read on first use
        self._keys = keys
        self.allow_plaintext = plaintext_allowed() if allow_plaintext is None else allow_plaintext

    @classmethod
    def of(cls, settings) -> DocumentStore:
        """The store a service's settings name, with their keys (read from the environment only once)."""
        return cls(settings.documents_dir, keys=settings.documents_keys)

    @property
    def keyring(self) -> Keyring:
        if self._keys is None:
            self._keys = _settings_keys()
        return parse_keys(self._keys)

    def put(self, data: bytes, *, prefix: str = "uploads") -> str:
        digest = hmac.new(self.keyring.name_key(), data, hashlib.sha256).hexdigest()
        key = f"{prefix}/{digest[:2]}/{digest}"
        if not self.exists(key):
            self.put_at(key, data)
        return key

    def put_at(self, key: str, data: bytes) -> None:
        self._write(key, self._seal(key, data))

    def read(self, key: str) -> bytes:
        """The document's bytes, decrypted; DocumentKeyError or DocumentTampered when that is impossible."""
        return self._open(key, self._file(key).read_bytes())

    def exists(self, key: str) -> bool:
        # a key no file could have (from a bad event, say) is simply not there: callers answer 404, not 500
        if not self.valid(key):
            return False
        return self._file(key).is_file()

    def stored_at(self, key: str) -> datetime:
        """When the document was last written (the orphan purge spares files younger than its grace period)."""
        return datetime.fromtimestamp(self._file(key).stat().st_mtime, tz=timezone.utc)

    def delete(self, key: str) -> None:
        """Remove a stored document; a key already gone is not an error (erasure runs again safely)."""
        self._file(key).unlink(missing_ok=True)

    @staticmethod
    def valid(key: str) -> bool:
        return isinstance(key, str) and bool(_KEY.match(key)) and ".." not in key

    def keys(self) -> Iterator[str]:
        """Every stored document's key (temporary files of writes in progress left out)."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.is_symlink() and self.valid(key):
                yield key

    def key_id(self, key: str) -> str | None:
        """The id of the key `key` is encrypted under, or None for a document stored before encryption."""
        with self._file(key).open("rb") as handle:
            head = handle.read(len(MAGIC) + 1 + 32)
        return self._header(head)[0] if head.startswith(MAGIC) else None

    def rotate(self, *, progress: Callable[[int, int, str], None] | None = None) -> int:
        """Re-encrypt every document not under the current key; returns how many were rewritten."""
        keys, current, rewritten = list(self.keys()), self.keyring.current, 0
        for number, key in enumerate(keys, start=1):
            if self.key_id(key) != current:
                self.put_at(key, self.read(key))
                rewritten += 1
            if progress is not None:
                progress(number, len(keys), key)
        return rewritten

    # ---- the envelope ------------------------------------------------------------------------------

    def _seal(self, key: str, data: bytes) -> bytes:
        keyring = self.keyring
        kid = keyring.current.encode()
        header = MAGIC + bytes([len(kid)]) + kid + os.urandom(NONCE_BYTES)
        return header + AESGCM(keyring.key(keyring.current)).encrypt(header[-NONCE_BYTES:], data,
                                                                     header + key.encode())

    def _open(self, key: str, stored: bytes) -> bytes:
        if not stored.startswith(MAGIC):
            if self.allow_plaintext:
                return stored  # stored before encryption, during the migration window; `rotate` encrypts it
            raise DocumentNotEncrypted(
                f"document {key} is not encrypted and is refused: a file put in place of a stored one, or one "
                f"stored before encryption (set {PLAINTEXT_ENV}=1 while `python -m shared.documents rotate` "
                f"encrypts those)")
        kid, header_length = self._header(stored)
        header = stored[:header_length]
        try:
            return AESGCM(self.keyring.key(kid)).decrypt(header[-NONCE_BYTES:], stored[header_length:],
                                                         header + key.encode())
        except InvalidTag:
            raise DocumentTampered(f"document {key} does not authenticate under key id {kid!r}: "
                                   f"altered, moved, or {ENV} holds a different key under that id") from None

    @staticmethod
    def _header(stored: bytes) -> tuple[str, int]:
        length = stored[len(MAGIC)] if len(stored) > len(MAGIC) else 0
        end = len(MAGIC) + 1 + length
        kid = stored[len(MAGIC) + 1:end].decode("ascii", "replace")
        if not length or not _KID.match(kid) or len(stored) < end + NONCE_BYTES:
            raise DocumentTampered("a stored document's header is damaged")
        return kid, end + NONCE_BYTES

    # ---- files -------------------------------------------------------------------------------------

    def _file(self, key: str) -> Path:
        if not self.valid(key):
            raise ValueError(f"invalid document key {key!r}")
        return self.root / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._file(key)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The document store's maintenance commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rotate", help="re-encrypt every document under the current key (the first of "
                                       f"{ENV}); the older keys can be dropped once it has finished")
    parser.parse_args(argv)
    from shared.config import Settings

    settings = Settings.from_env()
    store = DocumentStore.of(settings)
    try:
        current = store.keyring.current

        def show(number: int, total: int, key: str) -> None:
            if number == total or number % 100 == 0:
                print(f"{number}/{total} documents checked", flush=True)

        rewritten = store.rotate(progress=show)
    except (DocumentKeyError, DocumentTampered) as error:  # DocumentNotEncrypted too
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{rewritten} document(s) re-encrypted under key {current}; every document is now under it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
