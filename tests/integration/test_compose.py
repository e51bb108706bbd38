"""The docker compose stack: it validates, and every process it starts points at code and settings that exist."""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.config import KEYS, Settings
from shared.events import SUBSCRIBERS
from shared.keys import new_keys

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
REQUIRED_ENV = {
    **new_keys(),
    "POSTGRES_PASSWORD": "compose-test-database-password",
    # one PostgreSQL role per service, the relay's and the backup's (deploy/postgres/roles.sql)
    "INTAKE_DB_PASSWORD": "compose-test-intake-db-password",
    "REVIEW_DB_PASSWORD": "compose-test-review-db-password",
    "NOTIFY_DB_PASSWORD": "compose-test-notify-db-password",
    "RELAY_DB_PASSWORD": "compose-test-relay-db-password",
    "BACKUP_DB_PASSWORD": "compose-test-backup-db-password",
    "REDIS_PASSWORD": "compose-test-redis-password",
    "ADMIN_EMAIL": "admin@example.org",
    "ADMIN_PASSWORD": "compose-test-password",
}
# the keys (Settings attributes) each process is given: only what its code uses (docs/security.md)
# (a signing key gives its public half too: the process can check what it signs)
INTAKE_SIGNS = {"intake_event_signing_key", "intake_event_verify_key"}
REVIEW_SIGNS = {"review_event_signing_key", "review_event_verify_key"}
KEYS_GIVEN = {
    "intake": {"intake_secret_key", "applicant_token_key", "sync_api_key", "privacy_api_key", *INTAKE_SIGNS},
    "review": {"review_secret_key", "staff_signing_key", "staff_verify_key", "privacy_api_key", *REVIEW_SIGNS},
    "notify": {"staff_verify_key"},
    # events: each producer's processes that write the outbox sign, consumers verify with the public keys
    "worker-checks": {*INTAKE_SIGNS, "review_event_verify_key"},
    "worker-render": INTAKE_SIGNS,
    # reconciliation (beat jobs run by these workers) reads intake's sync API
    "worker-review": {"sync_api_key", "intake_event_verify_key", *REVIEW_SIGNS},
    "worker-notify": {"sync_api_key", "intake_event_verify_key", "review_event_verify_key"},
}
FIRST_ADMIN = {"migrate", "review"}
WEB_PORTS = {"intake": 5001, "review": 5002, "notify": 5003}
# which service databases each process works on
DATABASES = {
    "migrate": ("intake", "review", "notify"),
    "relay": ("intake", "review", "notify"),
    "intake": ("intake",),
    "worker-checks": ("intake",),
    "worker-render": ("intake",),
    "beat": ("intake",),
    "review": ("review",),
    "worker-review": ("review",),
    "notify": ("notify",),
    "worker-notify": ("notify",),
}
APP_SERVICES = sorted(DATABASES)
# the PostgreSQL role each process connects as: its service's (the owner of that database only), except the
# relay's own role (the outboxes only) and the backup's (reads only)
SHARED_ROLES = {"relay": "relay", "backup": "backup"}


def database_role(process: str, database: str) -> str:
    return SHARED_ROLES.get(process, database)
READS_DOCUMENTS = ["intake", "review", "worker-checks", "worker-render"]


def docker_compose(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("the docker-compose binary is not installed (apt-get install -y docker-compose)")
    env_file = tmp_path / "empty.env"  # so a developer's .env cannot change the outcome
    env_file.write_text("")
    return subprocess.run(
        [binary, "--file", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file as written (YAML anchors and merge keys resolved, variables not)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture
def resolved(tmp_path) -> dict:
    """The compose file as docker-compose interpolates it with only the required settings."""
    result = docker_compose("config", env=REQUIRED_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def command_words(service: dict) -> list[str]:
    command = service["command"]
    words = shlex.split(command) if isinstance(command, str) else list(command)
    # `sh -c "a && b"`: the modules are inside the script
    return [w for word in words for w in shlex.split(word)]


def modules_run_by(service: dict) -> list[tuple[str, bool]]:
    """(module, run as main) for `celery -A x`, `python -m x` and gunicorn `x:create_app()`."""
    words = command_words(service)
    modules = [(words[i + 1], word == "-m") for i, word in enumerate(words[:-1]) if word in ("-A", "-m")]
    modules += [(word.split(":")[0], False) for word in words if word.endswith(":create_app()")]
    return list(dict.fromkeys(modules))


def importable(module: str, *, run_as_main: bool) -> bool:
    """True when `module` resolves to real code (a bare folder is a namespace package: nothing to run)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    if run_as_main and spec.submodule_search_locations is not None:
        return importable(f"{module}.__main__", run_as_main=False)
    return True


def option(words: list[str], name: str) -> str | None:
    return words[words.index(name) + 1] if name in words else None


def test_compose_validates_with_only_the_documented_required_settings(tmp_path):
    result = docker_compose("config", "-q", env=REQUIRED_ENV, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_compose_refuses_to_start_without_a_required_setting(missing, tmp_path):
    env = {name: value for name, value in REQUIRED_ENV.items() if name != missing}

    result = docker_compose("config", "-q", env=env, tmp_path=tmp_path)

    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def test_every_process_the_architecture_names_is_a_service(compose):
    # the "ops" profile's tools: flower (tests/integration/test_flower.py), backup (test_backup.py)
    assert set(compose["services"]) == set(APP_SERVICES) | {"postgres", "redis", "mailpit", "flower", "backup", "restore"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_module_a_service_runs_is_importable(compose, name):
    modules = modules_run_by(compose["services"][name])
    assert modules, f"{name} runs no python module"
    missing = []
    for module, run_as_main in modules:
        try:
            found = importable(module, run_as_main=run_as_main)
        except Exception as error:  # a parent package that is absent or does not import
            found, module = False, f"{module} ({type(error).__name__}: {error})"
        if not found:
            missing.append(module)
    assert not missing, f"{name} runs modules that cannot be imported: {missing}"


def test_the_image_runs_the_intake_web_app_by_default():
    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "deploy" / "Dockerfile").read_text(), re.M)

    assert cmd and "services.intake:create_app()" in yaml.safe_load(cmd.group(1))


def test_every_queue_an_event_or_task_is_routed_to_has_a_worker(compose):
    consumed = set()
    for name, service in compose["services"].items():
        words = command_words(service) if "command" in service else []
        if "celery" in words and "worker" in words:
            consumed |= set(option(words, "-Q").split(","))
    routed = {route.queue for routes in SUBSCRIBERS.values() for route in routes}

    assert routed | {"intake.checks", "intake.render"} <= consumed


def test_render_worker_takes_one_slow_pdf_at_a_time_and_recycles_children(compose):
    words = command_words(compose["services"]["worker-render"])

    assert option(words, "-Q") == "intake.render"
    assert option(words, "--prefetch-multiplier") == "1"
    assert option(words, "--max-tasks-per-child") is not None


def test_redis_keeps_queued_tasks_across_restarts_and_memory_pressure(compose):
    words = command_words(compose["services"]["redis"])

    assert option(words, "--appendonly") == "yes"
    assert option(words, "--maxmemory-policy") == "noeviction"


def test_redis_requires_the_password_every_client_is_given(resolved):
    redis = resolved["services"]["redis"]
    password = REQUIRED_ENV["REDIS_PASSWORD"]

    assert option(command_words(redis), "--requirepass").lstrip("$") == "REDIS_PASSWORD"  # from the environment, not argv
    assert redis["environment"]["REDIS_PASSWORD"] == password
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    for name, service in resolved["services"].items():
        broker = service.get("environment", {}).get("BROKER_URL")
        assert broker is None or broker == f"redis://:{password}@redis:6379/0", name


def test_redis_has_no_password_default():
    text = COMPOSE_FILE.read_text()

    assert "${REDIS_PASSWORD:-" not in text and "redis://redis:" not in text


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_process_loads_settings_for_its_own_postgres_database(resolved, name, monkeypatch):
    service = resolved["services"][name]
    environment = {key: str(value) for key, value in service["environment"].items()}
    read = set()

    class RecordingEnviron(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

    monkeypatch.setattr(os, "environ", RecordingEnviron(environment))
    settings = Settings.from_env()
    monkeypatch.undo()

    created = re.findall(r"\\set \w+_db (\w+)", (ROOT / "deploy/postgres/roles.sql").read_text())
    assert not {"INTAKE_DATABASE_URL", "REVIEW_DATABASE_URL", "NOTIFY_DATABASE_URL"} - \
        {f"{database.upper()}_DATABASE_URL" for database in DATABASES[name]} & set(environment)
    for database in DATABASES[name]:
        assert database in created
        role = database_role(name, database)
        password = REQUIRED_ENV[f"{role.upper()}_DB_PASSWORD"]
        assert settings.database_url(database) == f"postgresql+psycopg://{role}:{password}@postgres:5432/{database}"
    assert settings.broker_url == f"redis://:{REQUIRED_ENV['REDIS_PASSWORD']}@redis:6379/0"
    assert (settings.smtp_host, settings.smtp_port) == ("mailpit", 1025)
    assert str(settings.documents_dir) == "/data/documents"
    assert settings.admin_email == (REQUIRED_ENV["ADMIN_EMAIL"] if name in FIRST_ADMIN else None)
    assert not set(environment) - read, "compose sets variables the application never reads"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_process_is_given_only_the_keys_it_uses(resolved, name, monkeypatch):
    environment = {key: str(value) for key, value in resolved["services"][name]["environment"].items()}
    monkeypatch.setattr(os, "environ", environment)
    settings = Settings.from_env()
    monkeypatch.undo()

    given = {attribute for attribute in KEYS if getattr(settings, attribute)}
    expected = KEYS_GIVEN.get(name, set())
    if "staff_signing_key" in expected:
        assert settings.staff_signing_key.strip() == REQUIRED_ENV["STAFF_SIGNING_KEY"].strip()
    assert given == expected
    assert ("ADMIN_PASSWORD" in environment) == (name in FIRST_ADMIN)
    if expected:  # what the web app checks at start-up passes with real keys
        settings.require(*sorted(expected))


def test_the_smtp_relays_login_reaches_notifys_worker_only(tmp_path):
    login = {"SMTP_USERNAME": "relay-user", "SMTP_PASSWORD": "relay-password-from-dotenv"}
    result = docker_compose("config", env={**REQUIRED_ENV, **login, "SMTP_SECURITY": "starttls"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]

    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert {variable: environment.get(variable) for variable in login} == \
            (login if name == "worker-notify" else dict.fromkeys(login)), name
        assert environment["SMTP_SECURITY"] == "starttls"


def test_notify_cannot_sign_staff_tokens_and_intake_holds_no_staff_key(resolved):
    services = resolved["services"]

    assert "STAFF_SIGNING_KEY" not in services["notify"]["environment"]
    assert not {"STAFF_SIGNING_KEY", "STAFF_VERIFY_KEY", "REVIEW_SECRET_KEY"} & set(services["intake"]["environment"])


def test_internal_services_are_not_published_and_mailpit_only_on_loopback(compose):
    services = compose["services"]

    assert "ports" not in services["postgres"] and "ports" not in services["redis"]
    assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]


def test_postgres_password_has_no_default(compose):
    text = COMPOSE_FILE.read_text()

    assert "${POSTGRES_PASSWORD:-" not in text
    assert services_password(compose) == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (see .env.example)}"


def services_password(compose) -> str:
    return compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]


DATABASE_PASSWORDS = ("INTAKE_DB_PASSWORD", "REVIEW_DB_PASSWORD", "NOTIFY_DB_PASSWORD", "RELAY_DB_PASSWORD",
                      "BACKUP_DB_PASSWORD")


def test_postgres_initialises_one_role_per_service_from_its_own_password(resolved, compose):
    postgres = resolved["services"]["postgres"]
    volumes = {}
    for volume in postgres["volumes"]:  # docker-compose v1 prints "source:target[:ro]", v2 a mapping
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            volume = {"source": source, "target": target, "read_only": mode == ["ro"]}
        volumes[volume["target"]] = volume

    assert {variable: postgres["environment"][variable] for variable in DATABASE_PASSWORDS} == \
        {variable: REQUIRED_ENV[variable] for variable in DATABASE_PASSWORDS}
    assert len({REQUIRED_ENV[variable] for variable in (*DATABASE_PASSWORDS, "POSTGRES_PASSWORD")}) == 6
    init = volumes["/docker-entrypoint-initdb.d/init.sh"]
    assert Path(init["source"]) == ROOT / "deploy/postgres/init.sh" and init["read_only"]
    assert Path(volumes["/nip-postgres"]["source"]) == ROOT / "deploy/postgres"
    script = (ROOT / "deploy/postgres/init.sh").read_text()
    assert "/nip-postgres/roles.sql" in script
    for variable in DATABASE_PASSWORDS:
        assert f'"${variable}"' in script and f"${{{variable}:-" not in COMPOSE_FILE.read_text()
    # the superuser's password is the init's: no process connects with it
    for name, service in resolved["services"].items():
        if name != "postgres":
            assert REQUIRED_ENV["POSTGRES_PASSWORD"] not in str(service.get("environment", {})), name


@pytest.mark.parametrize("name", [*APP_SERVICES, "backup", "restore"])
def test_each_process_holds_only_the_database_passwords_of_the_roles_it_connects_as(resolved, name):
    environment = resolved["services"][name]["environment"]
    given = {variable: value for variable, value in environment.items() if variable.endswith("_DATABASE_URL")}
    roles = {re.match(r"postgresql\+psycopg://(\w+):", url).group(1) for url in given.values()}
    expected_databases = {"backup": SERVICES_ALL, "restore": SERVICES_ALL}.get(name) or DATABASES[name]
    expected_roles = {database_role(name, database) for database in expected_databases}

    assert {variable.removesuffix("_DATABASE_URL").lower() for variable in given} == set(expected_databases)
    assert roles == expected_roles
    held = {variable for variable in DATABASE_PASSWORDS if REQUIRED_ENV[variable] in str(environment)}
    assert held == {f"{role.upper()}_DB_PASSWORD" for role in expected_roles}


SERVICES_ALL = ("intake", "review", "notify")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_long_running_processes_wait_for_migrations_and_restart(compose, name):
    service = compose["services"][name]
    if name == "migrate":
        assert service["restart"] == "no"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        return
    assert service["restart"] == "unless-stopped"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(WEB_PORTS))
def test_web_apps_are_published_and_health_checked_on_their_port(compose, name):
    service = compose["services"][name]
    port = WEB_PORTS[name]

    assert option(command_words(service), "--bind") == f"0.0.0.0:{port}"
    # on this host's loopback only: a TLS proxy in front is the way in, and no client reaches the app around it
    # to write the X-Forwarded-For the app would trust (TRUSTED_PROXIES)
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_web_apps_trust_no_forwarded_address_unless_told_and_metrics_need_a_token(resolved, tmp_path):
    for name in WEB_PORTS:
        environment = resolved["services"][name]["environment"]
        assert environment["TRUSTED_PROXIES"] == "0"
        assert "METRICS_TOKEN" in environment
    proxied = docker_compose("config", env={**REQUIRED_ENV, "TRUSTED_PROXIES": "1"}, tmp_path=tmp_path)
    assert proxied.returncode == 0, proxied.stderr
    assert all(yaml.safe_load(proxied.stdout)["services"][name]["environment"]["TRUSTED_PROXIES"] == "1"
               for name in WEB_PORTS)


def test_processes_that_read_documents_share_one_volume(compose):
    for name in READS_DOCUMENTS:
        assert "documents:/data/documents" in compose["services"][name]["volumes"], name
