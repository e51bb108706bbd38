"""What the public ports and the ingress expose (issue 23, items 2 and 7): /metrics only with Prometheus's token,
the internal APIs only with their keys and never routed by the ingress, and the client's address taken from
X-Forwarded-For only as far as TRUSTED_PROXIES trusts it."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from flask import request

from services.intake import create_app as create_intake
from services.notify import create_app as create_notify
from services.review import create_app as create_review

ROOT = Path(__file__).resolve().parents[3]
INGRESS = ROOT / "deploy" / "k8s" / "overlays" / "production" / "ingress.yaml"
FACTORIES = {"intake": create_intake, "review": create_review, "notify": create_notify}
HOSTS = {"intake": "apply.example.org", "review": "review.example.org", "notify": "notify.example.org"}
# served to the cluster only: Prometheus, the kubelet's probes, other services with their keys
NOT_PUBLIC = ("/internal/", "/metrics", "/healthz", "/readyz", "/mailbox")


def build(name: str, settings, **changes):
    factory = FACTORIES[name]
    settings = dataclasses.replace(settings, **changes)
    return factory(settings, first_admin=False) if name == "review" else factory(settings)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_metrics_without_the_token_are_refused(name, settings):
    app = build(name, settings, metrics_token="the-token-prometheus-holds-" + "x" * 20)
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGhlLXRva2Vu"},
                    {"Authorization": "Bearer "}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert b"http_requests_total" not in refused.data and refused.headers["WWW-Authenticate"]
    scraped = client.get("/metrics", headers={"Authorization": "Bearer the-token-prometheus-holds-" + "x" * 20})
    assert scraped.status_code == 200 and b"http_requests_total" in scraped.data


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_metrics_are_off_without_a_token(name, settings):
    client = build(name, settings, metrics_token=None).test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 404 and b"http_requests_total" not in answer.data


def _peer_seen(app, **environ) -> str:
    app.add_url_rule("/probe-address", "probe_address", lambda: request.remote_addr or "")
    return app.test_client().get("/probe-address", environ_base=environ).get_data(as_text=True)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_reached_directly_a_client_cannot_choose_its_address(name, settings):
    app = build(name, settings, trusted_proxies=0)
    assert _peer_seen(app, REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="203.0.113.9") == "192.0.2.50"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_behind_one_proxy_the_address_it_appended_is_the_client(name, settings):
    app = build(name, settings, trusted_proxies=1)
    # the client wrote 192.0.2.1 itself; the proxy appended the address it saw
    assert _peer_seen(app, REMOTE_ADDR="10.42.0.7",
                      HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9") == "203.0.113.9"


INTERNAL_CALLS = {
    "intake": ["/internal/v1/applications", "/internal/v1/events/1", "/internal/v1/privacy/statistics"],
    "review": ["/internal/v1/access-log/NIP-2027-000001"],
}


@pytest.mark.parametrize("name, path", [(n, p) for n, paths in INTERNAL_CALLS.items() for p in paths])
def test_internal_apis_refuse_a_call_without_their_key(name, path, settings):
    client = build(name, settings).test_client()
    for headers in ({}, {"Authorization": "Bearer guess"}):
        assert client.get(path, headers=headers).status_code in (401, 403), (path, headers)


def _ingress_paths() -> dict[str, list[tuple[str, str]]]:
    ingress = yaml.safe_load(INGRESS.read_text())
    assert ingress["kind"] == "Ingress"
    routed = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            routed.setdefault(path["backend"]["service"]["name"], []).append((path["pathType"], path["path"]))
            assert rule["host"] == HOSTS[path["backend"]["service"]["name"]]
    return routed


def _routed(paths: list[tuple[str, str]], url: str) -> bool:
    """Kubernetes' matching: Exact is the whole path; Prefix matches whole path elements."""
    for kind, path in paths:
        if kind == "Exact" and url == path:
            return True
        if kind == "Prefix" and (url == path or url.startswith(path.rstrip("/") + "/")):
            return True
    return False


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_the_ingress_routes_every_public_page_and_api_and_nothing_internal(name, settings):
    routed = _ingress_paths()[name]
    app = build(name, settings, metrics_token="t" * 40)
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<[^>]+>", "x", rule.rule)
        if url.startswith(NOT_PUBLIC):
            assert not _routed(routed, url), f"{name}: {url} must not be routed"
        else:
            assert _routed(routed, url), f"{name}: {url} is not routed"
    for url in ("/internal/v1/applications", "/internal", "/metrics", "/metrics/", "/healthz"):
        assert not _routed(routed, url)
