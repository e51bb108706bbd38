"""The Kubernetes manifests (deploy/k8s): valid against the Kubernetes API schemas (kubernetes-validate, offline),
the same commands, settings and keys as docker-compose.yml, probes and resources everywhere, one beat, and render
workers that follow their queue."""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from shared.config import KEYS, Settings
from shared.keys import new_keys
from tests.integration.test_compose import DATABASES, FIRST_ADMIN, KEYS_GIVEN, READS_DOCUMENTS, database_role

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "production"
KUBERNETES_VERSION = "1.33"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")
WEB = {"intake": 5001, "review": 5002, "notify": 5003}
NAMESPACE = "nip"


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization(folder: Path) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def base_resources() -> list[dict]:
    return [doc for name in kustomization(BASE)["resources"] for doc in load_all(BASE / name)]


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in base_resources() if doc["kind"] == kind}


def workloads() -> dict[str, dict]:
    return {name: doc for kind in WORKLOAD_KINDS for name, doc in by_kind(kind).items()}


def app_workloads() -> dict[str, dict]:
    """The pipeline's own processes (what the compose file runs from the app image); not the backup job."""
    return {name: doc for name, doc in workloads().items()
            if container(doc)["image"] == "nip-pipeline" and doc["kind"] != "CronJob"}


def pod_spec(doc: dict) -> dict:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]["spec"]


def container(doc: dict) -> dict:
    [only] = pod_spec(doc)["containers"]
    return only


def generated_secrets() -> dict[str, dict[str, str]]:
    """The Secrets the overlay's secretGenerator makes, with the keys its example env files list."""
    secrets = {}
    for generator in kustomization(OVERLAY)["secretGenerator"]:
        values = {}
        for env_file in generator["envs"]:
            example = OVERLAY / f"{env_file}.example"
            for line in example.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    name, _, value = line.partition("=")
                    values[name] = value
        secrets[generator["name"]] = values
    return secrets


def config_map() -> dict[str, str]:
    data = dict(by_kind("ConfigMap")["nip-config"]["data"])
    for generator in kustomization(OVERLAY).get("configMapGenerator", []):
        if generator["name"] == "nip-config":
            data.update(literal.split("=", 1) for literal in generator.get("literals", []))
    return data


def environment_of(doc: dict, values: dict[str, str] | None = None) -> dict[str, str]:
    """What the container's environment holds once deployed; secret values from `values` (by variable)."""
    values = values or {}
    secrets = generated_secrets()
    env = {}
    for source in container(doc).get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_map())
        else:
            env.update({name: values.get(name, example) for name, example in secrets[source["secretRef"]["name"]].items()})
    env.update({item["name"]: item["value"] for item in container(doc).get("env", []) if "value" in item})
    return env


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def compose_words(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


# ------------------------------------------------------------------------------------------- validity

def test_every_manifest_file_is_in_the_kustomization_and_every_listed_file_exists():
    listed = set(kustomization(BASE)["resources"])

    assert {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"} == listed
    for folder in (BASE, OVERLAY):
        for name in kustomization(folder)["resources"]:
            assert (folder / name).exists(), name


class _RefusingRepeatedKeys(yaml.SafeLoader):
    """Fails on a key given twice in one mapping, as kubectl does (yaml.safe_load keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        assert not repeated, f"{repeated} given twice at line {node.start_mark.line + 1}"
        return super().construct_mapping(node, deep=deep)


@pytest.mark.parametrize("path", sorted([*BASE.glob("*.yaml"), *OVERLAY.glob("*.yaml")]), ids=lambda p: p.name)
def test_no_manifest_gives_a_key_twice(path):
    list(yaml.load_all(path.read_text(), Loader=_RefusingRepeatedKeys))


@pytest.mark.parametrize("path", sorted([*BASE.glob("*.yaml"), *OVERLAY.glob("*.yaml")]), ids=lambda p: p.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(path):
    if path.name == "kustomization.yaml":
        return
    for doc in load_all(path):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except SchemaNotFoundError:
            # a custom resource (KEDA's ScaledObject and its TriggerAuthentication): their structure is checked below
            assert doc["kind"] in ("ScaledObject", "TriggerAuthentication") and doc["apiVersion"] == "keda.sh/v1alpha1"


def test_the_secrets_the_overlay_generates_are_valid_secrets():
    for name, values in generated_secrets().items():
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
                  "type": "Opaque", "stringData": values}
        kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)


def test_real_secret_files_never_enter_git():
    ignored = (OVERLAY / "secrets" / ".gitignore").read_text().split()

    assert "*.env" in ignored and "!*.env.example" in ignored


def test_every_secret_a_pod_uses_is_generated_and_every_generated_secret_is_used():
    generated = set(generated_secrets())
    used = {source["secretRef"]["name"] for doc in workloads().values()
            for source in container(doc).get("envFrom", []) if "secretRef" in source}
    used |= {item["valueFrom"]["secretKeyRef"]["name"] for doc in workloads().values()
             for item in container(doc).get("env", []) if "secretKeyRef" in item.get("valueFrom", {})}

    assert used == generated


# ------------------------------------------------------------------------------------------- same as compose

def test_every_compose_process_has_a_kubernetes_workload_of_the_same_name():
    compose = compose_services()
    expected = set(DATABASES)  # the application processes test_compose.py knows

    assert set(app_workloads()) == expected
    assert expected <= set(compose)


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_each_workload_runs_the_command_compose_runs(name):
    assert container(app_workloads()[name])["command"] == compose_words(compose_services()[name])


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_each_workload_is_given_exactly_the_keys_compose_gives_it(name, monkeypatch):
    keys = new_keys()
    doc = app_workloads()[name]
    environment = environment_of(doc, keys)
    monkeypatch.setattr(os, "environ", environment)
    settings = Settings.from_env()
    monkeypatch.undo()

    given = {attribute for attribute in KEYS if getattr(settings, attribute)}
    expected = KEYS_GIVEN.get(name, set())
    assert given == expected
    assert ("ADMIN_PASSWORD" in environment) == (name in FIRST_ADMIN)
    if expected:  # what the process checks at start-up passes once the secrets hold real keys
        settings.require(*sorted(expected))


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_each_workload_gets_only_its_own_databases(name):
    environment = environment_of(app_workloads()[name])
    given = {variable.removesuffix("_DATABASE_URL").lower() for variable in environment
             if variable.endswith("_DATABASE_URL")}

    assert given == set(DATABASES[name])
    for service in given:
        # as the role compose uses: the service's own (the owner of that database only), or the relay's
        role = database_role(name, service)
        assert environment[f"{service.upper()}_DATABASE_URL"].startswith(f"postgresql+psycopg://{role}:")


def test_each_database_secret_holds_one_roles_urls_and_only_migrate_gets_every_owners():
    secrets = generated_secrets()
    database_secrets = {name: values for name, values in secrets.items() if name.endswith("-database")}
    roles = {name: {re.match(r"postgresql\+psycopg://(\w+):", url).group(1) for url in values.values()}
             for name, values in database_secrets.items()}

    assert roles == {"nip-intake-database": {"intake"}, "nip-review-database": {"review"},
                     "nip-notify-database": {"notify"}, "nip-relay-database": {"relay"}, "nip-backup-database": {"backup"}}
    assert not {name for name, values in secrets.items() if name not in database_secrets
                and any(variable.endswith("_DATABASE_URL") for variable in values)}
    owners = {"nip-intake-database", "nip-review-database", "nip-notify-database"}
    holders = {name for name, doc in workloads().items()
               if len(owners & {s["secretRef"]["name"] for s in container(doc).get("envFrom", []) if "secretRef" in s}) > 1}
    assert holders == {"migrate"}  # each service's migrations, as that service's role


def test_intakes_secret_holds_no_staff_key_and_notify_cannot_sign():
    secrets = generated_secrets()
    staff = {"STAFF_SIGNING_KEY", "STAFF_VERIFY_KEY", "REVIEW_SECRET_KEY"}
    intake_secrets = {source["secretRef"]["name"] for source in container(app_workloads()["intake"])["envFrom"]
                      if "secretRef" in source}

    assert all(not staff & set(secrets[name]) for name in intake_secrets)
    assert not staff & set(environment_of(app_workloads()["intake"]))
    assert "STAFF_SIGNING_KEY" not in environment_of(app_workloads()["notify"])
    holders = {name for name, values in secrets.items() if "STAFF_SIGNING_KEY" in values}
    assert holders == {"nip-review-keys"}


def test_the_smtp_relays_login_reaches_notifys_worker_only():
    login = {"SMTP_USERNAME", "SMTP_PASSWORD"}

    for name, doc in app_workloads().items():
        assert login & set(environment_of(doc)) == (login if name == "worker-notify" else set()), name
    assert not login & set(config_map())


def test_settings_match_compose_where_they_are_not_the_clusters_own():
    compose_env = compose_services()["intake"]["environment"]
    data = config_map()

    # the broker's URL carries Redis's password: a Secret, as compose's comes from .env
    assert "BROKER_URL" not in data
    assert compose_env["BROKER_URL"] == "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD (see .env.example)}@redis:6379/0"
    assert generated_secrets()["nip-broker"]["BROKER_URL"] == "redis://:REDIS_PASSWORD@redis:6379/0"
    assert data["DOCUMENTS_DIR"] == compose_env["DOCUMENTS_DIR"]
    assert data["VAR_DIR"] == compose_env["VAR_DIR"]
    assert set(data) <= set(compose_env) | {"SMTP_FROM"}
    for name in ("worker-review", "worker-notify"):
        assert environment_of(app_workloads()[name])["INTAKE_SYNC_URL"] == \
            compose_services()[name]["environment"]["INTAKE_SYNC_URL"]


def test_processes_that_read_documents_share_one_volume():
    claims = set(by_kind("PersistentVolumeClaim"))
    assert by_kind("PersistentVolumeClaim")["nip-documents"]["spec"]["accessModes"] == ["ReadWriteMany"]
    for name, doc in app_workloads().items():
        mounts = {m["mountPath"]: m["name"] for m in container(doc).get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod_spec(doc).get("volumes", [])}
        reads = "/data/documents" in mounts
        assert reads == (name in READS_DOCUMENTS), name
        if reads:
            claim = volumes[mounts["/data/documents"]]["persistentVolumeClaim"]["claimName"]
            assert claim == "nip-documents" and claim in claims


# ------------------------------------------------------------------------------------------- health, resources

@pytest.mark.parametrize("name", sorted(WEB))
def test_web_apps_are_probed_on_healthz_and_readyz_and_served_on_their_port(name):
    doc = by_kind("Deployment")[name]
    main = container(doc)
    port = {p["name"]: p["containerPort"] for p in main["ports"]}["http"]

    assert port == WEB[name]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = by_kind("Service")[name]
    assert service["spec"]["selector"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["port"] == WEB[name]


@pytest.mark.parametrize("name", sorted(WEB))
def test_web_apps_keep_a_pod_through_voluntary_disruptions(name):
    budgets = [pdb for pdb in by_kind("PodDisruptionBudget").values()
               if pdb["spec"]["selector"]["matchLabels"].items()
               <= by_kind("Deployment")[name]["spec"]["template"]["metadata"]["labels"].items()]

    assert budgets and budgets[0]["spec"]["minAvailable"] >= 1
    assert by_kind("Deployment")[name]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("name", sorted(n for n, d in by_kind("Deployment").items()))
def test_every_deployment_is_probed_or_says_why_not(name):
    doc = by_kind("Deployment")[name]
    main = container(doc)
    reason = doc["metadata"].get("annotations", {}).get("nip-pipeline/no-probes", "")

    assert ("livenessProbe" in main and "readinessProbe" in main) or len(reason) > 40


@pytest.mark.parametrize("name", sorted(workloads()))
def test_every_container_has_resource_requests_and_a_memory_limit_and_runs_unprivileged(name):
    doc = workloads()[name]
    spec = pod_spec(doc)
    for item in [*spec["containers"], *spec.get("initContainers", [])]:
        resources = item["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), item["name"]
        assert "memory" in resources["limits"], item["name"]
        assert item["securityContext"]["allowPrivilegeEscalation"] is False
        assert item["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False


# ------------------------------------------------------------------------------------------- beat, relay, scaling

def test_one_beat_under_a_redis_lock():
    beat = by_kind("Deployment")["beat"]
    words = container(beat)["command"]

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert words[:4] == ["python", "-m", "shared.beat_lock", "--"] and "beat" in words
    assert not [d for n, d in by_kind("Deployment").items() if n != "beat" and " beat " in f" {' '.join(container(d)['command'])} "]


def test_the_migration_job_runs_before_and_apart_from_the_long_running_processes():
    job = by_kind("Job")["migrate"]

    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")
    assert job["spec"]["backoffLimit"] >= 1


def test_render_workers_scale_on_the_length_of_their_redis_list():
    [scaled] = by_kind("ScaledObject").values()
    render = by_kind("Deployment")[scaled["spec"]["scaleTargetRef"]["name"]]
    queue = compose_words(compose_services()["worker-render"])
    [trigger] = scaled["spec"]["triggers"]

    assert render["metadata"]["name"] == "worker-render"
    assert "replicas" not in render["spec"]  # the autoscaler owns it; an apply must not reset it
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == queue[queue.index("-Q") + 1] == "intake.render"
    assert int(trigger["metadata"]["listLength"]) >= 1
    host, port = trigger["metadata"]["address"].rsplit(":", 1)
    assert host == f"redis.{kustomization(OVERLAY)['namespace']}.svc.cluster.local"
    assert int(port) == by_kind("Service")["redis"]["spec"]["ports"][0]["port"]
    assert generated_secrets()["nip-broker"]["BROKER_URL"].endswith(f"/{trigger['metadata']['databaseIndex']}")
    # Redis requires its password: KEDA reads it from the same Secret as the redis pod
    [auth] = [d for d in base_resources() if d["kind"] == "TriggerAuthentication"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "nip-redis", "key": "REDIS_PASSWORD"}]
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]


def test_the_public_web_app_scales_and_its_deployment_leaves_replicas_to_the_autoscaler():
    [hpa] = [h for h in by_kind("HorizontalPodAutoscaler").values() if h["spec"]["scaleTargetRef"]["name"] == "intake"]

    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in by_kind("Deployment")["intake"]["spec"]


def test_the_broker_keeps_queued_tasks_like_composes():
    args = container(by_kind("StatefulSet")["redis"])["args"]
    compose = [w for word in compose_words(compose_services()["redis"]) for w in shlex.split(word)]

    for option in ("--appendonly", "--maxmemory-policy"):
        assert args[args.index(option) + 1] == compose[compose.index(option) + 1]


def test_the_overlay_sets_the_namespace_and_the_image():
    overlay = kustomization(OVERLAY)
    [namespace] = load_all(OVERLAY / "namespace.yaml")

    assert overlay["namespace"] == namespace["metadata"]["name"] == NAMESPACE
    assert [image["name"] for image in overlay["images"]] == ["nip-pipeline"]
    assert re.fullmatch(r"[\w.-]+", overlay["images"][0]["newTag"]) and overlay["images"][0]["newTag"] != "latest"


def test_the_nightly_backup_reads_every_database_and_the_documents_and_holds_no_key(monkeypatch):
    cron = by_kind("CronJob")["backup"]
    main = container(cron)
    environment = environment_of(cron, new_keys())
    monkeypatch.setattr(os, "environ", environment)
    settings = Settings.from_env()
    monkeypatch.undo()
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}

    assert "python -m shared.backup create --out /backups/" in " ".join(main["command"])
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert {name for name in ("intake", "review", "notify")
            if environment.get(f"{name.upper()}_DATABASE_URL")} == {"intake", "review", "notify"}
    # as the `backup` role, which only reads
    assert all(environment[f"{name.upper()}_DATABASE_URL"].startswith("postgresql+psycopg://backup:")
               for name in ("intake", "review", "notify"))
    assert not {attribute for attribute in KEYS if getattr(settings, attribute)}
    assert mounts["/data/documents"]["readOnly"] is True
    assert mounts["/backups"]["name"] in {v["name"] for v in pod_spec(cron)["volumes"]}
    assert "nip-backups" in by_kind("PersistentVolumeClaim")


# ------------------------------------------------------------------------------------------- the broker and the network

def test_redis_requires_a_password_from_its_secret_and_every_app_pod_gets_the_url_carrying_it():
    redis = container(by_kind("StatefulSet")["redis"])
    [password] = [e for e in redis["env"] if e["name"] == "REDIS_PASSWORD"]

    assert redis["args"][redis["args"].index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert password["valueFrom"]["secretKeyRef"] == {"name": "nip-redis", "key": "REDIS_PASSWORD"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert "REDISCLI_AUTH" in " ".join(redis[probe]["exec"]["command"])
    for name, doc in workloads().items():
        if container(doc)["image"] == "nip-pipeline":
            assert environment_of(doc)["BROKER_URL"].startswith("redis://:"), name
    assert "REDIS_PASSWORD" not in {n for values in generated_secrets().values() for n in values} - \
        set(generated_secrets()["nip-redis"])


def policies() -> dict[str, dict]:
    return by_kind("NetworkPolicy")


def selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def pod_labels(doc: dict) -> dict:
    template = doc["spec"]["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else doc["spec"]["template"]
    return template["metadata"]["labels"]


def test_every_network_policy_validates_and_the_namespace_denies_by_default():
    for doc in policies().values():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    deny = policies()["default-deny"]["spec"]

    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


def test_redis_admits_only_the_pipelines_processes_and_kedas_operator():
    workloads_by_name = workloads()
    admitted = [rule for doc in policies().values() if selects(doc["spec"]["podSelector"], {"app.kubernetes.io/name": "redis"})
                for rule in doc["spec"].get("ingress", [])]

    assert admitted, "nothing may reach redis"
    for rule in admitted:
        assert [p["port"] for p in rule["ports"]] == [6379]
        for peer in rule["from"]:
            assert "ipBlock" not in peer
            if "namespaceSelector" in peer:  # only KEDA's operator from outside the namespace
                assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}
                assert peer["podSelector"] == {"matchLabels": {"app": "keda-operator"}}
    inside = [peer["podSelector"] for rule in admitted for peer in rule["from"] if "namespaceSelector" not in peer]
    reach = {name for name, doc in workloads_by_name.items() if any(selects(s, pod_labels(doc)) for s in inside)}
    assert reach == set(app_workloads()) - {"migrate"}


def egress_ports(name: str) -> set[int]:
    labels = pod_labels(workloads()[name])
    return {port["port"] for doc in policies().values() if selects(doc["spec"]["podSelector"], labels)
            for rule in doc["spec"].get("egress", []) for port in rule.get("ports", [])}


def test_each_pod_may_reach_only_what_it_needs():
    assert egress_ports("intake") == {53, 6379, 5432, 5001, 5002}  # DNS, Redis, PostgreSQL, review's privacy API
    assert egress_ports("notify") == {53, 6379, 5432}
    assert egress_ports("worker-render") == {53, 6379, 5432}
    assert egress_ports("worker-notify") == {53, 6379, 5432, 5001, 5002, 25, 465, 587}
    assert egress_ports("relay") == {53, 6379, 5432}
    assert egress_ports("migrate") == egress_ports("backup") == {53, 5432}
