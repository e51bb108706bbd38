"""Documents at rest: the store's files alone reveal nothing, tampering is refused, keys rotate."""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from shared.documents import (DocumentKeyError, DocumentNotEncrypted, DocumentStore, DocumentTampered,
                              new_documents_key, parse_keys)

ROOT = Path(__file__).resolve().parents[3]


def everything_under(root: Path) -> bytes:
    """Every file's name and bytes: what someone holding a copy of the store (or a backup) has."""
    return b"".join(str(p.relative_to(root)).encode() + p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def key() -> str:
    return new_documents_key()


def test_the_stores_files_reveal_neither_a_document_nor_its_hash(tmp_path, key):
    store = DocumentStore(tmp_path, keys=key)
    cv = b"%PDF-1.7 curriculum vitae of " + secrets.token_hex(16).encode() + b" born 2003-04-05"

    upload = store.put(cv)
    store.put_at("dossiers/nip27-0001.pdf", cv)

    seen = everything_under(tmp_path)
    assert cv not in seen and cv[-40:] not in seen
    assert hashlib.sha256(cv).hexdigest().encode() not in seen  # a holder of the CV cannot test for it
    assert store.read(upload) == store.read("dossiers/nip27-0001.pdf") == cv
    assert store.put(cv) == upload  # still content-addressed: one file per distinct upload


def test_an_altered_document_is_refused(tmp_path, key):
    store = DocumentStore(tmp_path, keys=key)
    store.put_at("dossiers/nip27-0002.pdf", b"%PDF a dossier")
    path = tmp_path / "dossiers/nip27-0002.pdf"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))

    with pytest.raises(DocumentTampered, match="nip27-0002"):
        store.read("dossiers/nip27-0002.pdf")


def test_a_document_moved_under_another_name_is_refused(tmp_path, key):
    store = DocumentStore(tmp_path, keys=key)
    store.put_at("dossiers/nip27-0003.pdf", b"%PDF the dossier of 0003")
    store.put_at("dossiers/nip27-0004.pdf", b"%PDF the dossier of 0004")
    os.replace(tmp_path / "dossiers/nip27-0003.pdf", tmp_path / "dossiers/nip27-0004.pdf")

    with pytest.raises(DocumentTampered):
        store.read("dossiers/nip27-0004.pdf")


def test_an_unencrypted_file_put_in_place_of_an_encrypted_one_is_refused(tmp_path, key, monkeypatch):
    monkeypatch.delenv("DOCUMENTS_ALLOW_PLAINTEXT", raising=False)
    store = DocumentStore(tmp_path, keys=key)
    store.put_at("dossiers/nip27-0010.pdf", b"%PDF the real dossier")
    (tmp_path / "dossiers/nip27-0010.pdf").write_bytes(b"%PDF a dossier of the attacker's own")

    with pytest.raises(DocumentNotEncrypted, match="nip27-0010.*not encrypted.*DOCUMENTS_ALLOW_PLAINTEXT=1"):
        store.read("dossiers/nip27-0010.pdf")
    with pytest.raises(DocumentTampered):  # callers that refuse a tampered document refuse this one too
        store.read("dossiers/nip27-0010.pdf")
    with pytest.raises(DocumentNotEncrypted):  # nor does a rotation launder it under the current key
        DocumentStore(tmp_path, keys=f"{new_documents_key()},{key}").rotate()
    assert (tmp_path / "dossiers/nip27-0010.pdf").read_bytes() == b"%PDF a dossier of the attacker's own"


@pytest.mark.parametrize("value, allowed", [("1", True), ("true", True), ("", False), ("0", False)])
def test_plaintext_is_read_only_in_the_migration_window_the_setting_opens(tmp_path, key, monkeypatch, value,
                                                                          allowed):
    monkeypatch.setenv("DOCUMENTS_ALLOW_PLAINTEXT", value)
    (tmp_path / "dossiers").mkdir()
    (tmp_path / "dossiers/nip27-0011.pdf").write_bytes(b"%PDF stored before encryption")
    store = DocumentStore(tmp_path, keys=key)

    if allowed:
        assert store.read("dossiers/nip27-0011.pdf") == b"%PDF stored before encryption"
    else:
        with pytest.raises(DocumentNotEncrypted):
            store.read("dossiers/nip27-0011.pdf")


def test_rotation_re_encrypts_everything_and_every_document_stays_readable(tmp_path, key):
    old = DocumentStore(tmp_path, keys=key, allow_plaintext=True)  # the migration window
    documents = {old.put(f"upload {n}".encode()): f"upload {n}".encode() for n in range(5)}
    (tmp_path / "dossiers").mkdir()
    (tmp_path / "dossiers/nip27-0005.pdf").write_bytes(b"%PDF stored before encryption")  # a legacy file
    documents["dossiers/nip27-0005.pdf"] = b"%PDF stored before encryption"
    assert old.read("dossiers/nip27-0005.pdf") == b"%PDF stored before encryption"

    new = new_documents_key()
    rotating = DocumentStore(tmp_path, keys=f"{new},{key}", allow_plaintext=True)
    progress = []
    assert rotating.rotate(progress=lambda n, total, _: progress.append((n, total))) == 6
    assert progress[-1] == (6, 6)

    only_new = DocumentStore(tmp_path, keys=new, allow_plaintext=False)  # the old key and the window can go now
    assert {k: only_new.read(k) for k in documents} == documents
    assert {only_new.key_id(k) for k in documents} == {parse_keys(new).current}
    assert b"stored before encryption" not in everything_under(tmp_path)
    assert rotating.rotate() == 0  # nothing left to do


def test_a_document_under_a_key_no_longer_configured_names_the_missing_key_id(tmp_path, key):
    DocumentStore(tmp_path, keys=key).put_at("dossiers/nip27-0006.pdf", b"%PDF")
    other = new_documents_key()

    with pytest.raises(DocumentKeyError, match=parse_keys(key).current):
        DocumentStore(tmp_path, keys=other).read("dossiers/nip27-0006.pdf")


def test_a_different_key_under_the_same_id_is_refused(tmp_path, key):
    DocumentStore(tmp_path, keys=key).put_at("dossiers/nip27-0007.pdf", b"%PDF")
    impostor = f"{parse_keys(key).current}:{new_documents_key().split(':')[1]}"

    with pytest.raises(DocumentTampered, match="different key"):
        DocumentStore(tmp_path, keys=impostor).read("dossiers/nip27-0007.pdf")


@pytest.mark.parametrize("value, message", [
    ("", "DOCUMENTS_KEYS is not set"),
    ("just-a-key", "not `keyid:base64key`"),
    ("k1:not base64!", "not base64"),
    ("k1:" + "QUJD", "3 bytes; AES-256 needs 32"),
    ("k1:{k},k1:{k}", "appears twice"),
])
def test_a_missing_or_malformed_key_is_a_clear_error(tmp_path, value, message):
    value = value.format(k=new_documents_key().split(":")[1])
    with pytest.raises(DocumentKeyError, match=message):
        DocumentStore(tmp_path, keys=value).put_at("dossiers/nip27-0008.pdf", b"%PDF")
    assert not (tmp_path / "dossiers").exists()


def test_the_rotate_command_prints_its_progress(tmp_path, key):
    DocumentStore(tmp_path / "documents", keys=key).put(b"a CV")
    new = new_documents_key()
    env = {**os.environ, "DOCUMENTS_KEYS": f"{new},{key}", "DOCUMENTS_DIR": str(tmp_path / "documents"),
           "VAR_DIR": str(tmp_path / "var")}

    result = subprocess.run([sys.executable, "-m", "shared.documents", "rotate"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "1/1 documents checked" in result.stdout
    assert f"1 document(s) re-encrypted under key {parse_keys(new).current}" in result.stdout


def test_a_key_in_either_base64_alphabet_with_or_without_padding_is_the_same_key(tmp_path):
    raw = bytes(range(200, 232))  # encodes with both `+`/`/` and `-`/`_` variants and one `=` of padding
    standard, urlsafe = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    DocumentStore(tmp_path, keys=f"k1:{standard}").put_at("dossiers/nip27-0009.pdf", b"%PDF")

    assert DocumentStore(tmp_path, keys=f"k1:{urlsafe.rstrip('=')}").read("dossiers/nip27-0009.pdf") == b"%PDF"
