"""The submissions benchmark's baseline: Flask alone, reading the same multipart upload, answering 201.

It does what any endpoint must (parse the form, read the JSON part and every file) and nothing of intake's
work (validation, inspection, storage, database), so the ratio shows what intake's own work costs.
"""
from __future__ import annotations

import hashlib
import json
import secrets

from flask import Flask, request

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024


@app.post("/api/v1/applications")
def submit():
    payload = json.loads(request.form["application"])
    received = {kind: len(part.read()) for kind, part in request.files.items()}
    reference = f"BARE-{secrets.token_hex(4).upper()}"
    digest = hashlib.sha256(json.dumps([payload["email"], received], sort_keys=True).encode()).hexdigest()
    return {"reference": reference, "status": "submitted", "token": digest}, 201


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
