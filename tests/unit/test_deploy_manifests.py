"""deploy/: the compose file and the Kubernetes manifests agree with the code:
every service has its Deployment, probes, port and a command that imports;
every environment variable they set is one the code reads."""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from gateway.internal import DEFAULT_INTERNAL_PORT
from services.cli import main as cli_main
from services.common.config import DEFAULT_PORTS, SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPONENTS = (*SERVICES, "gateway")
WSGI_TARGET = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")


# --- what the code reads -------------------------------------------------------

def _is_env_receiver(node: ast.AST) -> bool:
    """`env`, `os.environ`, `settings.env`, `runtime().settings.env`, ..."""
    if isinstance(node, ast.Name):
        return node.id in ("env", "environ")
    if isinstance(node, ast.Attribute):
        return node.attr in ("env", "environ")
    return False


def _names_of(node: ast.AST) -> set[str]:
    """A literal name, or an f-string like f"{name.upper()}_URL" over the services."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2:
        head, tail = node.values
        if (isinstance(head, ast.FormattedValue) and isinstance(head.value, ast.Call)
                and isinstance(head.value.func, ast.Attribute) and head.value.func.attr == "upper"
                and isinstance(tail, ast.Constant)):
            return {f"{name.upper()}{tail.value}" for name in SERVICES}
    return set()


def env_names_read(paths) -> set[str]:
    """Names passed as string literals to env.get / os.environ.get / os.environ[...] /
    os.getenv / the config helpers `_int(env, NAME, ...)` in the given files."""
    names: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                if (isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
                        and _is_env_receiver(func.value) and node.args):
                    names |= _names_of(node.args[0])
                elif isinstance(func, ast.Attribute) and func.attr == "getenv" and node.args:
                    names |= _names_of(node.args[0])
                elif (isinstance(func, ast.Name) and len(node.args) >= 2
                      and isinstance(node.args[0], ast.Name) and node.args[0].id == "env"):
                    names |= _names_of(node.args[1])  # _int(env, "NAME", default)
            elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                  and _is_env_receiver(node.value)):
                names |= _names_of(node.slice)
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]*", name)}


def _code_files():
    for package in ("services", "gateway"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "testing" not in path.relative_to(ROOT).parts:
                yield path
    yield DEPLOY / "gunicorn.conf.py"


CODE_READS = env_names_read(_code_files())

# Read by a library on the code's behalf, each named by the module that relies on it:
# the manifests may set these too, as long as that module still says so.
LIBRARY_READS = {
    "AWS_ACCESS_KEY_ID": "services/messaging/storage.py",      # boto3's credential chain
    "AWS_SECRET_ACCESS_KEY": "services/messaging/storage.py",
}


def _known_names() -> set[str]:
    known = set(CODE_READS)
    for name, module in LIBRARY_READS.items():
        if name in (ROOT / module).read_text():
            known.add(name)
    return known


KNOWN_NAMES = _known_names()


def test_the_env_helper_finds_what_the_code_reads():
    # Guards the helper itself: a regression here would make the checks below vacuous.
    for name in ("SECRET_KEY", "DATABASE_URL", "AMQP_URL", "JWKS_URL", "OPERATOR_PHONES",
                 "SMS_PROVIDER", "OTP_PER_IP_PER_HOUR", "PUBLIC_URL", "IDENTITY_URL",
                 "MODERATION_URL", "GATEWAY_RATE_BURST", "PORT", "WEB_CONCURRENCY",
                 "GUNICORN_WORKER_CLASS"):
        assert name in CODE_READS, name
    assert "GATEWAY_URL" not in CODE_READS  # f"{name.upper()}_URL" runs over SERVICES only


# --- the files -------------------------------------------------------------------

def _yaml_files():
    return sorted([*DEPLOY.glob("*.yaml"), *DEPLOY.glob("*.yml"), *K8S.rglob("*.yaml"),
                   *K8S.rglob("*.yml")])


def _load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path):
    docs = _load_all(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert isinstance(doc, dict)


def _manifests(include_examples: bool = False) -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        if path.name.endswith(".example.yaml") and not include_examples:
            continue
        docs += _load_all(path)
    return docs


def _by_kind(kind: str, docs=None) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in (docs or _manifests()) if doc["kind"] == kind}


def test_kustomization_lists_every_manifest_and_no_example():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    examples = {name for name in files if name.endswith(".example.yaml")}
    assert listed == files - examples
    # Placeholder Secrets must never be applied over the real ones.
    assert not listed & examples
    for name in examples:
        assert {doc["kind"] for doc in _load_all(K8S / name)} == {"Secret"}
    for entry in listed:
        assert (K8S / entry).is_file(), entry


def test_kustomization_sets_the_namespace_that_is_created():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] in _by_kind("Namespace")


# --- Deployments -------------------------------------------------------------------

def _main_container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _command(container: dict) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def _wsgi_target(command: list[str]) -> str:
    targets = [arg for arg in command if WSGI_TARGET.match(arg)]
    assert len(targets) == 1, command
    return targets[0]


def _port_number(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    return {p["name"]: p["containerPort"] for p in container["ports"]}[port]


def _expected_module(component: str) -> str:
    return "gateway.wsgi" if component == "gateway" else f"services.{component}.wsgi"


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_has_a_deployment_with_probes_on_its_port(component):
    deployment = _by_kind("Deployment").get(component)
    assert deployment is not None, f"no Deployment {component}"
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    container = _main_container(deployment)
    port = DEFAULT_PORTS[component]

    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    assert env.get("PORT") == str(port), "gunicorn binds $PORT (deploy/gunicorn.conf.py)"
    assert port in [p["containerPort"] for p in container["ports"]]
    # A gateway pod is ready on its own (its /readyz aggregates every service),
    # and says so on its internal port only.
    readiness = ("/readyz/self", DEFAULT_INTERNAL_PORT) if component == "gateway" else ("/readyz", port)
    for probe, (path, probed_port) in (("livenessProbe", ("/healthz", port)), ("readinessProbe", readiness),
                                       ("startupProbe", ("/healthz", port))):
        http = container[probe]["httpGet"]
        assert http["path"] == path, probe
        assert _port_number(container, http["port"]) == probed_port, probe

    command = _command(container)
    assert command[:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    assert (ROOT / command[2]).is_file()
    module, attribute = WSGI_TARGET.match(_wsgi_target(command)).groups()
    assert module == _expected_module(component)
    assert attribute == "app"
    assert importlib.util.find_spec(module) is not None, module
    assert "\napp = " in (ROOT / (module.replace(".", "/") + ".py")).read_text()

    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    resources = container["resources"]
    assert resources["requests"] and resources["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    tmp = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert tmp and any(v["name"] == tmp[0]["name"] and "emptyDir" in v for v in pod["volumes"])

    if component == "gateway":
        assert _env_of(container).get("GUNICORN_WORKER_CLASS") == "gevent", "WebSockets need gevent"


@pytest.mark.parametrize("component", COMPONENTS)
def test_two_replicas_at_least(component):
    deployment = _by_kind("Deployment")[component]
    hpas = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in _by_kind("HorizontalPodAutoscaler").values()}
    if component in hpas:
        assert hpas[component]["spec"]["minReplicas"] >= 2
        assert hpas[component]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    else:
        assert deployment["spec"].get("replicas", 1) >= 2


def test_gateway_and_messaging_have_an_autoscaler_and_a_disruption_budget():
    hpas = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in _by_kind("HorizontalPodAutoscaler").values()}
    assert {"gateway", "messaging"} <= hpas
    budgets = _by_kind("PodDisruptionBudget").values()
    for component in ("gateway", "messaging"):
        labels = _by_kind("Deployment")[component]["spec"]["template"]["metadata"]["labels"]
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_migrates_its_own_database_before_it_starts(service):
    pod = _by_kind("Deployment")[service]["spec"]["template"]["spec"]
    migrations = [c for c in pod.get("initContainers", []) if "migrate" in _command(c)]
    assert len(migrations) == 1
    command = _command(migrations[0])
    assert command == ["python", "-m", "services", "migrate", service]
    # The command really exists with that argument (parsing only; --help exits).
    with pytest.raises(SystemExit) as exit_:
        cli_main([*command[3:], "--help"])
    assert exit_.value.code == 0
    # Same configuration as the service: identity refuses to build without its providers.
    main = _main_container(_by_kind("Deployment")[service])
    assert migrations[0].get("envFrom") == main.get("envFrom")
    assert _database_url_ref(migrations[0]) == _database_url_ref(main)


def _database_url_ref(container: dict):
    for item in container.get("env", []):
        if item["name"] == "DATABASE_URL":
            return item.get("valueFrom") or item.get("value")
    return None


def test_every_service_has_its_own_database_url():
    refs = {}
    for service in SERVICES:
        ref = _database_url_ref(_main_container(_by_kind("Deployment")[service]))
        assert ref, f"{service} has no DATABASE_URL"
        refs[service] = str(ref)
    assert len(set(refs.values())) == len(SERVICES)


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_has_a_service_on_its_port(component):
    service = _by_kind("Service").get(component)
    assert service is not None, f"no Service {component}"
    deployment = _by_kind("Deployment")[component]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    container = _main_container(deployment)
    ports = service["spec"]["ports"]
    assert [_port_number(container, p["targetPort"]) for p in ports] == [DEFAULT_PORTS[component]]


def test_the_gateway_reaches_every_service_by_its_service_name_and_port():
    env = _env_of(_main_container(_by_kind("Deployment")["gateway"]))
    services = _by_kind("Service")
    for name in SERVICES:
        url = env[f"{name.upper()}_URL"]
        match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url)
        assert match, url
        assert match.group(1) in services
        assert int(match.group(2)) == services[match.group(1)]["spec"]["ports"][0]["port"]


def test_the_gateways_internal_port_is_scraped_and_probed_but_never_exposed():
    deployment = _by_kind("Deployment")["gateway"]
    container = _main_container(deployment)
    assert _env_of(container)["INTERNAL_PORT"] == str(DEFAULT_INTERNAL_PORT)
    assert DEFAULT_INTERNAL_PORT in [p["containerPort"] for p in container["ports"]]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(DEFAULT_INTERNAL_PORT)
    assert annotations["prometheus.io/path"] == "/metrics"
    # Nothing routes to it: the Service (which the ingress uses) has the public port alone.
    service = _by_kind("Service")["gateway"]
    assert [_port_number(container, p["targetPort"]) for p in service["spec"]["ports"]] == [DEFAULT_PORTS["gateway"]]
    for ingress in _by_kind("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                port = path["backend"]["service"]["port"]
                assert port in ({"name": "http"}, {"number": DEFAULT_PORTS["gateway"]}), port
    # Every other component keeps its metrics on its own port, which only the cluster reaches.
    for name in SERVICES:
        template = _by_kind("Deployment")[name]["spec"]["template"]["metadata"]
        assert template["annotations"]["prometheus.io/port"] == str(DEFAULT_PORTS[name])


def test_jwks_url_points_at_identity():
    common = _by_kind("ConfigMap")["sferum-common"]["data"]
    port = _by_kind("Service")["identity"]["spec"]["ports"][0]["port"]
    assert common["JWKS_URL"] == f"http://identity:{port}/api/v1/.well-known/jwks.json"


def test_the_ingress_routes_the_stream_with_long_timeouts_to_the_gateway():
    ingresses = list(_by_kind("Ingress").values())
    stream = []
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "gateway"
                if "/api/v1/stream".startswith(path["path"].rstrip("/") or "/"):
                    stream.append((ingress, path))
    assert stream
    ingress, path = max(stream, key=lambda item: len(item[1]["path"]))  # nginx picks the longest
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 600


# --- environment variables ----------------------------------------------------------

def _config_sources() -> dict[tuple[str, str], dict]:
    sources = {}
    for doc in _manifests(include_examples=True):
        if doc["kind"] in ("ConfigMap", "Secret"):
            sources[(doc["kind"], doc["metadata"]["name"])] = {
                **(doc.get("data") or {}), **(doc.get("stringData") or {})}
    return sources


def _env_of(container: dict) -> dict[str, object]:
    """The environment a container gets: envFrom ConfigMaps/Secrets, then env."""
    sources = _config_sources()
    env: dict[str, object] = {}
    for ref in container.get("envFrom", []):
        kind, key = ("ConfigMap", "configMapRef") if "configMapRef" in ref else ("Secret", "secretRef")
        name = ref[key]["name"]
        assert (kind, name) in sources, f"{kind} {name} is not defined in deploy/k8s"
        env.update(sources[(kind, name)])
    for item in container.get("env", []):
        if "valueFrom" in item and "fieldRef" in item["valueFrom"]:
            env[item["name"]] = f"fieldRef:{item['valueFrom']['fieldRef']['fieldPath']}"  # the downward API
        elif "valueFrom" in item:
            source = item["valueFrom"]
            kind, key = ("ConfigMap", "configMapKeyRef") if "configMapKeyRef" in source else ("Secret", "secretKeyRef")
            ref = source[key]
            assert (kind, ref["name"]) in sources, f"{kind} {ref['name']} is not defined in deploy/k8s"
            assert ref["key"] in sources[(kind, ref["name"])], f"{kind} {ref['name']} has no {ref['key']}"
            env[item["name"]] = sources[(kind, ref["name"])][ref["key"]]
        else:
            env[item["name"]] = item.get("value")
    return env


def _k8s_containers():
    for deployment in _by_kind("Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            yield deployment["metadata"]["name"], container


PLATFORM_IMAGE = "sferum-platform"
JANUS_DIR = DEPLOY / "janus"
JANUS_ENTRYPOINT = (JANUS_DIR / "entrypoint.sh").read_text()


def _read_by(container: dict) -> set[str]:
    """What reads a container's environment: the platform's code, Janus's
    entrypoint, or coturn's own arguments ($(NAME), expanded by Kubernetes)."""
    if container["image"] == PLATFORM_IMAGE:
        return KNOWN_NAMES
    if container["image"] == "sferum-janus":
        return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", JANUS_ENTRYPOINT))
    return set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", " ".join(_command(container))))


def test_every_variable_the_manifests_set_is_read_by_the_code():
    for deployment, container in _k8s_containers():
        unknown = set(_env_of(container)) - _read_by(container)
        assert not unknown, f"{deployment}/{container['name']} sets variables no code reads: {unknown}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_gets_what_production_requires(service):
    env = _env_of(_main_container(_by_kind("Deployment")[service]))
    for name in ("SECRET_KEY", "DATABASE_URL", "AMQP_URL", "JWKS_URL"):
        assert env.get(name), f"{service} lacks {name}"
    assert "SFERUM_DEV" not in env, "production never sets SFERUM_DEV"
    if service == "identity":
        assert env["SMS_PROVIDER"] != "console" and env["MAIL_PROVIDER"] != "console"
        assert "OPERATOR_PHONES" in env


def test_messaging_replicas_share_a_bucket_that_the_code_accepts(tmp_path):
    from services.messaging.storage import S3Storage, open_storage

    env = _env_of(_main_container(_by_kind("Deployment")["messaging"]))
    # Several replicas: a local directory would give each pod its own files.
    assert str(env["FILE_STORAGE"]).startswith("s3://")
    assert isinstance(open_storage(env["FILE_STORAGE"], tmp_path), S3Storage)
    assert env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
    # The gateway and the ingress let the largest upload through.
    gateway = _env_of(_main_container(_by_kind("Deployment")["gateway"]))
    assert int(env["FILE_MAX_BYTES"]) < int(gateway["GATEWAY_MAX_BODY_BYTES"])
    body = _by_kind("Ingress")["gateway"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(gateway["GATEWAY_MAX_BODY_BYTES"]) <= int(body.rstrip("m")) << 20


def test_compose_messaging_keeps_files_on_a_volume(tmp_path):
    from services.messaging.storage import LocalStorage, open_storage

    spec = COMPOSE["services"]["messaging"]
    url = _compose_env(spec)["FILE_STORAGE"]
    assert isinstance(open_storage(url, tmp_path), LocalStorage)
    path = url[len("file://"):]
    assert any(volume.split(":")[1] == path for volume in spec["volumes"])


def test_the_gateway_gets_the_broker_and_no_secret_key():
    env = _env_of(_main_container(_by_kind("Deployment")["gateway"]))
    assert env.get("AMQP_URL")
    assert "SECRET_KEY" not in env and "DATABASE_URL" not in env


# --- compose -----------------------------------------------------------------------

COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _platform_services() -> dict[str, dict]:
    """The compose services that run this project's image."""
    image = COMPOSE["services"]["gateway"]["image"]
    return {name: spec for name, spec in COMPOSE["services"].items() if spec.get("image") == image}


def _compose_env(spec: dict) -> dict:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def test_compose_builds_the_image_from_the_deploy_dockerfile():
    for name, spec in _platform_services().items():
        build = spec["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile", name


def test_compose_infrastructure_has_healthchecks():
    for name in ("rabbitmq", "postgres"):
        assert COMPOSE["services"][name]["healthcheck"]["test"], name
    init = [v for v in COMPOSE["services"]["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init and (DEPLOY / init[0].split(":")[0]).resolve().is_file()


@pytest.mark.parametrize("component", COMPONENTS)
def test_compose_runs_every_component_after_healthy_rabbitmq_and_postgres(component):
    spec = COMPOSE["services"][component]
    depends = spec["depends_on"]
    for name in ("rabbitmq", "postgres"):
        assert depends[name]["condition"] == "service_healthy", f"{component} -> {name}"
    assert _wsgi_target(spec["command"]) == f"{_expected_module(component)}:app"
    assert spec["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    env = _compose_env(spec)
    assert env["PORT"] == str(DEFAULT_PORTS[component])
    checked = str(DEFAULT_INTERNAL_PORT if component == "gateway" else DEFAULT_PORTS[component])
    assert f"127.0.0.1:{checked}/readyz" in " ".join(spec["healthcheck"]["test"])
    if component == "gateway":
        assert env["INTERNAL_PORT"] == str(DEFAULT_INTERNAL_PORT)
        assert not any(str(DEFAULT_INTERNAL_PORT) in str(published) for published in spec["ports"])
        assert env["GUNICORN_WORKER_CLASS"] == "gevent"
        for name in SERVICES:
            assert depends[name]["condition"] == "service_healthy"
            assert env[f"{name.upper()}_URL"] == f"http://{name}:{DEFAULT_PORTS[name]}"
    else:
        migration = [name for name, d in depends.items()
                     if d["condition"] == "service_completed_successfully"]
        assert len(migration) == 1
        job = COMPOSE["services"][migration[0]]
        assert job["command"] == ["python", "-m", "services", "migrate", component]
        assert job["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert _compose_env(job)["DATABASE_URL"] == env["DATABASE_URL"]
        assert f"/sferum_{component}" in env["DATABASE_URL"]


def test_compose_creates_the_databases_the_services_use():
    init = (DEPLOY / "postgres-init.sql").read_text()
    for service in SERVICES:
        assert re.search(rf"CREATE DATABASE sferum_{service}\b", init), service


def test_every_variable_compose_sets_is_read_by_the_code():
    for name, spec in _platform_services().items():
        unknown = set(_compose_env(spec)) - KNOWN_NAMES
        assert not unknown, f"{name} sets variables no code reads: {unknown}"


def test_dockerfile_sets_only_known_variables_and_runs_as_non_root():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    joined = text.replace("\\\n", " ")
    for line in re.findall(r"^ENV\s+(.+)$", joined, re.M):
        for name in re.findall(r"([A-Z_][A-Z0-9_]*)=", line):
            assert name in CODE_READS or name.startswith(("PYTHON", "PIP_")), name
    for copied in re.findall(r"^COPY\s+(?!--from)(\S+)", text, re.M):
        assert (ROOT / copied).exists(), copied


# --- calls, Janus and coturn ---------------------------------------------------------

SHARED_WITH_JANUS = ("JANUS_API_SECRET", "JANUS_ADMIN_KEY", "JANUS_EVENTS_SECRET")


def _source(container: dict, name: str):
    """Where a container's variable comes from: (kind, object, key), or its value."""
    for item in container.get("env", []):
        if item["name"] == name:
            if "valueFrom" not in item or "fieldRef" in item["valueFrom"]:
                return item.get("value")
            source = item["valueFrom"]
            kind, key = ("ConfigMap", "configMapKeyRef") if "configMapKeyRef" in source else ("Secret", "secretKeyRef")
            return kind, source[key]["name"], source[key]["key"]
    sources = _config_sources()
    for ref in reversed(container.get("envFrom", [])):
        kind, key = ("ConfigMap", "configMapRef") if "configMapRef" in ref else ("Secret", "secretRef")
        if name in sources[(kind, ref[key]["name"])]:
            return kind, ref[key]["name"], name
    return None


def test_calls_janus_and_coturn_share_their_secrets_from_one_secret():
    calls = _main_container(_by_kind("Deployment")["calls"])
    janus = _main_container(_by_kind("Deployment")["janus"])
    coturn = _main_container(_by_kind("Deployment")["coturn"])
    for name in SHARED_WITH_JANUS:
        assert _source(calls, name) == _source(janus, name) == ("Secret", "sferum-calls-secrets", name), name
    assert _source(calls, "TURN_SECRET") == _source(coturn, "TURN_SECRET") == ("Secret", "sferum-calls-secrets",
                                                                                "TURN_SECRET")
    assert "--use-auth-secret" in _command(coturn) and "--static-auth-secret=$(TURN_SECRET)" in _command(coturn)
    assert not [arg for arg in _command(coturn) if arg.startswith(("--user", "--lt-cred-mech"))]


def test_calls_reaches_janus_and_janus_reaches_the_calls_events_path():
    from services.calls.app import JANUS_EVENTS_PATH
    from services.calls.config import CallsConfig
    from services.common.config import Settings

    calls_env = _env_of(_main_container(_by_kind("Deployment")["calls"]))
    janus_env = _env_of(_main_container(_by_kind("Deployment")["janus"]))
    services = _by_kind("Service")
    assert calls_env["JANUS_URL"] == f"http://janus:{services['janus']['spec']['ports'][0]['port']}/janus"
    assert janus_env["JANUS_EVENTS_URL"] == \
        f"http://calls:{services['calls']['spec']['ports'][0]['port']}{JANUS_EVENTS_PATH}"
    # The settings are ones the calls service accepts, and say it runs through Janus.
    config = CallsConfig.from_settings(Settings.from_env("calls", {k: str(v) for k, v in calls_env.items()}))
    assert config.sfu and config.turn_urls
    assert config.janus_keepalive < int(janus_env["JANUS_SESSION_TIMEOUT"])
    janus = _by_kind("Deployment")["janus"]
    assert janus["spec"]["replicas"] == 1 and janus["spec"]["strategy"]["type"] == "Recreate"
    probe = _main_container(janus)["readinessProbe"]["httpGet"]
    assert probe["path"] == "/janus/info"


def test_janus_templates_are_filled_by_the_entrypoint_and_load_only_what_calls_use():
    exported = set(re.findall(r"\$([A-Z][A-Z0-9_]*)", JANUS_ENTRYPOINT.split("vars=", 1)[1].split("for template", 1)[0]))
    for template in JANUS_DIR.glob("*.jcfg"):
        used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template.read_text()))
        assert used <= exported, (template.name, used - exported)
    linked = re.findall(r'ln -s "\$lib/\w+/(\S+\.so)"', JANUS_ENTRYPOINT)
    assert sorted(linked) == ["libjanus_http.so", "libjanus_sampleevh.so", "libjanus_videoroom.so"]
    videoroom = (JANUS_DIR / "janus.plugin.videoroom.jcfg").read_text()
    assert "string_ids = true" in videoroom and "admin_key" in videoroom
    events = (JANUS_DIR / "janus.eventhandler.sampleevh.jcfg").read_text()
    assert 'backend_user = "janus"' in events and "backend_pwd" in events


def test_compose_wires_calls_to_janus_and_coturn():
    from services.calls.app import JANUS_EVENTS_PATH

    services = COMPOSE["services"]
    calls, janus = _compose_env(services["calls"]), _compose_env(services["janus"])
    assert calls["JANUS_URL"] == "http://janus:8088/janus"
    assert janus["JANUS_EVENTS_URL"] == f"http://calls:{DEFAULT_PORTS['calls']}{JANUS_EVENTS_PATH}"
    for name in SHARED_WITH_JANUS:
        assert calls[name] == janus[name], name
    static = [arg for arg in services["coturn"]["command"] if arg.startswith("--static-auth-secret=")]
    assert static == [f"--static-auth-secret={calls['TURN_SECRET']}"]
    assert _compose_env(services["migrate-calls"])["JANUS_URL"] == calls["JANUS_URL"]


# --- the broker and the databases: the operators' clusters ---------------------------

def test_the_broker_is_a_three_node_cluster_that_every_component_names_node_by_node():
    from kombu import Connection

    from services.common.bus import broker_urls

    cluster = _by_kind("RabbitmqCluster")["rabbitmq"]
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1" and cluster["spec"]["replicas"] == 3
    # The operator names the pods <cluster>-server-<n>, each in the headless Service <cluster>-nodes.
    nodes = {f"rabbitmq-server-{n}.rabbitmq-nodes" for n in range(3)}
    for deployment, container in _k8s_containers():
        url = _env_of(container).get("AMQP_URL")
        if url is None or container["image"] != PLATFORM_IMAGE:
            continue
        urls = broker_urls(str(url))
        assert {Connection(part).hostname for part in urls} == nodes, deployment
        assert Connection(str(url)).alt == urls  # kombu's failover takes the same list


def test_every_database_is_on_the_cloudnativepg_clusters_primary_with_a_role_of_its_own():
    from urllib.parse import urlsplit

    cluster = _by_kind("Cluster")["postgres"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and cluster["spec"]["instances"] == 3
    assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owners = {initdb["database"]: initdb["owner"]}
    owners.update({db["spec"]["name"]: db["spec"]["owner"] for db in _by_kind("Database").values()
                   if db["spec"]["cluster"]["name"] == "postgres"})
    passwords = {initdb["owner"]: initdb["secret"]["name"]}
    passwords.update({role["name"]: role["passwordSecret"]["name"] for role in cluster["spec"]["managed"]["roles"]})
    secrets = _config_sources()
    for service in SERVICES:
        url = urlsplit(str(_env_of(_main_container(_by_kind("Deployment")[service]))["DATABASE_URL"]))
        database, user = url.path[1:], url.username
        assert url.hostname == "postgres-rw", service  # the operator's Service of the primary
        assert owners.get(database) == user, service
        assert secrets[("Secret", passwords[user])]["username"] == user
