"""docker-compose.yml and deploy/ are checked here, since Docker does not run on the development machines:
every command a service of our image runs exists in the repo, every variable it sets is a setting the code
reads (and the README documents), mounted files exist, and the alert rules and the dashboard only ask for
metrics the service exports."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from app import metrics
from app.factory import create_app
from tests.conftest import test_config as make_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
# services that run this repository's image (the others run their own image's program)
OURS = {name: svc for name, svc in SERVICES.items() if "build" in svc}
# read by tools rather than by our code
TOOL_VARIABLES = {"FLASK_APP"}  # the flask command's app (wsgi.py)
READS = re.compile(
    r"""(?:_env|_env_int|os\.environ\.get|os\.environ\.setdefault|os\.getenv)\(\s*"([A-Z][A-Z0-9_]*)"|os\.environ\["([A-Z][A-Z0-9_]*)"\]"""
)


def settings_read_by_the_code() -> set[str]:
    files = [*ROOT.glob("app/**/*.py"), *ROOT.glob("push/*.py"), ROOT / "gunicorn.conf.py", ROOT / "tests/conftest.py"]
    names = {a or b for path in files for a, b in READS.findall(path.read_text())}
    return names | {metrics.MULTIPROC_ENV}


def documented_settings() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("## Configuration") : readme.index("## Operating it")]


def test_the_stack_has_every_part():
    assert {"api", "worker", "cron", "fcm", "redis", "db", "prometheus", "grafana"} <= set(SERVICES)
    assert SERVICES["fcm"]["profiles"] == ["development"]
    assert SERVICES["prometheus"]["profiles"] == ["monitoring"] == SERVICES["grafana"]["profiles"]
    for name in ("api", "worker", "cron"):
        service = SERVICES[name]
        assert "profiles" not in service, name
        assert service["environment"]["FCM_ENDPOINT"].endswith("http://fcm:9099}"), name
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
        assert mounts[service["environment"]["UPLOAD_DIR"]] == "uploads", name
        assert mounts[service["environment"]["PROMETHEUS_MULTIPROC_DIR"]] == "metrics", name
    assert {"pgdata", "uploads", "metrics"} <= set(COMPOSE["volumes"])
    fcm_port = SERVICES["fcm"]["command"][SERVICES["fcm"]["command"].index("--port") + 1]
    assert SERVICES["api"]["environment"]["FCM_ENDPOINT"].endswith(f":{fcm_port}}}")


def commands(service: dict) -> list[list[str]]:
    command = service.get("command")
    if not command:
        return [service["entrypoint"]] if service.get("entrypoint") else []
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in re.split(r"&&|;", command[2])]
    return [command]


@pytest.fixture(scope="module")
def flask_commands() -> set[str]:
    return set(create_app(make_config()).cli.commands)


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_command_exists_in_the_repo(name, flask_commands):
    found = commands(OURS[name])
    assert found, f"{name} runs nothing"
    for argv in found:
        argv = [arg for arg in argv if arg != "exec"]
        program = argv[0]
        if program == "flask":
            assert argv[1] in flask_commands, f"{name}: flask {argv[1]} is not a command"
        elif program == "gunicorn":
            assert (ROOT / argv[argv.index("-c") + 1]).is_file(), name
            module, _, attribute = argv[-1].partition(":")
            assert f"{attribute} = " in (ROOT / f"{module}.py").read_text(), name
        elif program == "python":
            module = argv[argv.index("-m") + 1]
            assert (ROOT / f"{module.replace('.', '/')}.py").is_file(), f"{name}: no module {module}"
            assert "__main__" in (ROOT / f"{module.replace('.', '/')}.py").read_text()
        elif program == "pytest":
            assert "pytest==" in (ROOT / "requirements-dev.in").read_text()
        else:
            pytest.fail(f"{name}: unknown program {program}")


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_variable_is_a_known_setting(name):
    known = settings_read_by_the_code() | TOOL_VARIABLES
    documented = documented_settings()
    for variable in OURS[name].get("environment") or {}:
        assert variable in known, f"{name} sets {variable}, which no code reads"
        assert variable in TOOL_VARIABLES or f"`{variable}`" in documented, f"{variable} is not in the README"


def test_mounted_files_exist():
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"


def test_health_checks_ask_readyz():
    assert "/api/v1/readyz" in " ".join(SERVICES["api"]["healthcheck"]["test"])
    assert "/api/v1/readyz" in (ROOT / "Dockerfile").read_text().split("HEALTHCHECK", 1)[1]


def exported_metric_names() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        name = getattr(value, "_name", None)
        kind = getattr(value, "_type", None)
        if name and kind:
            names |= {name, f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    # read at scrape time (app/web/metrics.py)
    live = re.findall(r'"(fieldsales_[a-z_]+)"', (ROOT / "app/web/metrics.py").read_text())
    return names | set(live)


def test_alerts_and_dashboard_ask_for_exported_metrics():
    exported = exported_metric_names()
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    assert {"OutboxLagging", "JobsFailing", "HighServerErrorRate", "LeadSweepNotRunning"} <= set(alerts)
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/fieldsales.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for expr in [*alerts.values(), *queries]:
        for name in re.findall(r"\bfieldsales_[a-z_]+", expr):
            assert name in exported, f"{name} is not exported ({expr})"
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["authorization"]["credentials"] == SERVICES["api"]["environment"]["METRICS_TOKEN"]
