"""docker-compose.yml, the Dockerfile, gunicorn.conf.py and deploy/nginx.conf agree with each
other and with the application (Docker cannot run here; test_topology runs the same processes)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
import yaml

from tests.deploy.procs import ROOT

pytestmark = pytest.mark.deploy


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_every_role_of_the_topology() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web1", "web2", "worker", "scheduler", "nginx"}
    assert services["migrate"]["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert services["worker"]["command"] == ["flask", "--app", "wsgi", "worker"]
    assert services["scheduler"]["command"] == ["flask", "--app", "wsgi", "scheduler"]
    for name in ("web1", "web2", "worker", "scheduler"):
        service = services[name]
        # Nothing starts before the schema is upgraded.
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert env["INFIRMARY_ENV"] == "production"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["TRUSTED_PROXIES"] == "1"
        for secret in ("SECRET_KEY", "AUDIT_KEY"):
            assert re.fullmatch(r"\$\{" + secret + r":\?.+\}", env[secret]), "secrets come from .env, required"
    assert "command" not in services["web1"] and "command" not in services["web2"]  # the image's CMD
    assert "ports" not in services["web1"] and "ports" not in services["web2"]  # only nginx is exposed
    nginx = services["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]


def test_nginx_upstream_names_the_compose_web_services() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream infirmary_web \{(.*?)\}", conf, re.S)
    assert upstream is not None
    assert re.findall(r"server (\w+):8000", upstream.group(1)) == ["web1", "web2"]
    assert "hash $infirmary_route consistent;" in upstream.group(1)
    socket_io = re.search(r"location /socket\.io/ \{(.*?)\}", conf, re.S)
    assert socket_io is not None and "proxy_buffering off;" in socket_io.group(1)
    for header in ("Upgrade $http_upgrade", "Connection $connection_upgrade",
                   "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme"):
        assert f"proxy_set_header {header};" in conf


def test_image_serves_with_gunicorn_conf_and_the_worker_commands_exist() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]' in dockerfile
    assert re.search(r"^USER infirmary$", dockerfile, re.M)
    for package in ("libharfbuzz-subset0", "fonts-noto-cjk", "libpango-1.0-0"):
        assert package in dockerfile
    assert "npm ci" in dockerfile and "scripts/assets.py" in dockerfile

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gthread"
    assert settings["workers"] == 1
    assert settings["threads"] >= 100
    assert settings["worker_connections"] > settings["threads"]


def test_flask_commands_used_by_compose_are_registered(app: object) -> None:
    commands = app.cli.commands  # type: ignore[attr-defined]
    for name in ("db", "worker", "scheduler", "users", "backup"):
        assert name in commands, name


def test_env_example_lists_what_compose_requires() -> None:
    example = (ROOT / "deploy" / "env.example").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required == {"POSTGRES_PASSWORD", "SECRET_KEY", "AUDIT_KEY"}
    for name in required:
        assert re.search(rf"^{name}=", example, re.M), name
    assert Path(ROOT / ".dockerignore").read_text().count(".env") >= 1
