"""deploy/ stays true to the code: every environment variable the settings read is documented, gunicorn's
config loads and serves the app, the compose file has its services, and the systemd units run commands
that exist."""

import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class

ROOT = Path(settings.BASE_DIR)
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("zhibu-*.*"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def settings_variables():
    source = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    calls = re.findall(r"\benv(?:\.\w+)?\(", source)
    names = re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source)
    # A name passed in a variable would slip past this check: every read must name its variable.
    assert len(calls) == len(names), "config/settings.py reads an environment variable not named literally"
    return set(names)


def gunicorn_variables():
    source = (DEPLOY / "gunicorn.conf.py").read_text(encoding="utf-8")
    return set(re.findall(r"os\.environ\.get\(\"([A-Z][A-Z0-9_]*)\"", source))


def compose_text():
    return (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")


def example_lines():
    return (DEPLOY / "zhibu.env.example").read_text(encoding="utf-8").splitlines()


def documented(lines):
    """{variable: index of its line}, for set (KEY=…) and commented defaults (# KEY=…) alike."""
    found = {}
    for index, line in enumerate(lines):
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            found[match.group(1)] = index
    return found


def test_the_env_example_lists_every_variable_the_deployment_reads_and_no_other():
    read = settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"} <= read
    used_by_compose = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text()))
    listed = set(documented(example_lines()))

    assert read - listed == set(), "missing from deploy/zhibu.env.example"
    assert gunicorn_variables() - listed == set()
    assert used_by_compose - listed == set()
    assert listed - read - gunicorn_variables() - used_by_compose == set(), "documented but read by nothing"


def test_each_variable_in_the_env_example_is_explained_in_chinese():
    lines = example_lines()
    for name, index in documented(lines).items():
        above = index - 1
        while above >= 0 and re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", lines[above]):
            above -= 1  # a group of variables shares the comment above it
        comment = []
        while above >= 0 and lines[above].startswith("#"):
            comment.append(lines[above])
            above -= 1
        assert CJK.search("".join(comment)), name


def load_gunicorn_config(monkeypatch, **environment):
    for name in gunicorn_variables() | {"LOG_LEVEL"}:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    loaded = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    return {name: value for name, value in loaded.items() if not name.startswith("_") and name.islower()}


def test_gunicorn_config_has_sane_defaults_and_only_settings_gunicorn_knows(monkeypatch):
    from gunicorn.config import Config

    config = load_gunicorn_config(monkeypatch)
    known = Config().settings
    modules = {"os", "multiprocessing"}
    assert set(config) - modules - set(known) == set(), "names gunicorn would silently ignore"
    assert config["wsgi_app"] == "config.wsgi:application"
    assert config["bind"] == "127.0.0.1:8000"
    assert 1 <= config["workers"] <= 8
    assert 30 <= config["timeout"] <= 300 and config["graceful_timeout"] < config["timeout"]
    assert config["accesslog"] == "-" and config["errorlog"] == "-"

    tuned = load_gunicorn_config(
        monkeypatch, GUNICORN_BIND="0.0.0.0:9000", GUNICORN_WORKERS="3", GUNICORN_TIMEOUT="60"
    )
    assert (tuned["bind"], tuned["workers"], tuned["timeout"]) == ("0.0.0.0:9000", 3, 60)

    module, attribute = config["wsgi_app"].split(":")
    assert callable(getattr(__import__(module, fromlist=[attribute]), attribute))


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url, deadline, process):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback server
                return response.status, response.read().decode()
        except (urllib.error.URLError, ConnectionError) as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not answer: {exc}") from exc
            time.sleep(0.2)


def test_gunicorn_serves_the_app_with_the_deploy_config(tmp_path):
    """Production mode: DEBUG off, static files collected and served by whitenoise under hashed names."""
    environment = {
        **os.environ,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{_free_port()}",
        "GUNICORN_WORKERS": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=environment, check=True, cwd=ROOT)  # noqa: S603
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"],
            env=environment,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://{environment['GUNICORN_BIND']}"
        status, page = _get(f"{base}/accounts/login/", time.monotonic() + 60, server)
        assert status == 200 and "登录" in page, log.read_text()
        stylesheet = re.search(r'href="(/static/css/zhibu\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "static files are not served under their hashed names"
        assert _get(base + stylesheet.group(1), time.monotonic() + 10, server)[0] == 200
        icon = _get(base + "/favicon.ico", time.monotonic() + 10, server)  # redirected to the hashed icon
        assert icon[0] == 200 and icon[1].startswith("<svg")
        assert 'GET /accounts/login/ HTTP/1.1" 200' in log.read_text()  # the access log is on
    finally:
        server.terminate()
        server.wait(timeout=30)


def compose_services():
    """{service: its block of text}, read structurally (no YAML library in the project)."""
    text = compose_text()
    block = re.search(r"^services:\n(.*?)(?=^\S)", text, re.S | re.M).group(1)
    names = re.findall(r"^  ([a-z][\w-]*):\s*$", block, re.M)
    bodies = re.split(r"^  [a-z][\w-]*:\s*$", block, flags=re.M)[1:]
    return dict(zip(names, bodies, strict=True))


def test_compose_runs_postgresql_redis_web_worker_beat_after_migrate():
    services = compose_services()
    assert {"db", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert "image: postgres:15" in services["db"]
    assert '"manage.py", "migrate"' in services["migrate"]
    assert '"gunicorn", "--config", "deploy/gunicorn.conf.py"' in services["web"]
    assert '"celery", "-A", "config", "worker"' in services["worker"]
    assert '"celery", "-A", "config", "beat"' in services["beat"]
    for name in ("web", "worker", "beat"):
        assert re.search(r"migrate:\s*\n\s*condition: service_completed_successfully", services[name]), name
    declared = set(re.findall(r"^  (\w+):\s*$", compose_text().split("\nvolumes:\n")[-1], re.M))
    assert set(re.findall(r"- (\w+):/", compose_text())) <= declared
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "dockerfile: deploy/Dockerfile" in compose_text()
    assert "collectstatic" in dockerfile and "postgresql-client" in dockerfile


def _has_docker_compose():
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)  # noqa: S607
    return probe.returncode == 0


@pytest.mark.skipif(not _has_docker_compose(), reason="docker compose is not installed")
def test_docker_compose_accepts_the_file(tmp_path):
    copy = shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(copy / "zhibu.env.example", copy / ".env")
    command = ["docker", "compose", "-f", str(copy / "docker-compose.yml"), "config", "-q"]
    subprocess.run(command, check=True)  # noqa: S603


def exec_lines(unit):
    lines = unit.read_text(encoding="utf-8").splitlines()
    return [shlex.split(line.split("=", 1)[1]) for line in lines if line.startswith("ExecStart=")]


def test_systemd_units_run_commands_that_exist():
    assert {u.name for u in UNITS} >= {
        "zhibu-web.service",
        "zhibu-worker.service",
        "zhibu-beat.service",
        "zhibu-backup.service",
        "zhibu-backup.timer",
    }
    commands = get_commands()
    checked = set()
    for unit in (u for u in UNITS if u.suffix == ".service"):
        text = unit.read_text(encoding="utf-8")
        assert "WorkingDirectory=/opt/zhibu\n" in text and "EnvironmentFile=/etc/zhibu/zhibu.env\n" in text
        [[program, *arguments]] = exec_lines(unit)
        assert program.startswith("/opt/zhibu/.venv/bin/"), unit.name
        tool = Path(program).name
        if tool == "gunicorn":
            assert arguments[:2] == ["--config", "deploy/gunicorn.conf.py"]
            assert (ROOT / arguments[1]).is_file()
            checked.add("gunicorn")
        elif tool == "celery":
            assert arguments[:2] == ["-A", "config"] and arguments[2] in {"worker", "beat"}
            from config.celery import app

            assert app.main == "zhibu"
            checked.add(f"celery {arguments[2]}")
        else:
            assert tool == "python" and arguments[0] == "manage.py", unit.name
            name, *options = arguments[1:]
            command = load_command_class(commands[name], name)
            command.create_parser("manage.py", name).parse_args(options)  # raises on an unknown option
            checked.add(f"manage.py {name}")
    assert checked >= {"gunicorn", "celery worker", "celery beat", "manage.py backup"}
    timer = (DEPLOY / "systemd" / "zhibu-backup.timer").read_text(encoding="utf-8")
    assert "Unit=zhibu-backup.service" in timer and "OnCalendar=" in timer


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path):
    """systemd's own check, with the install paths pointed at this checkout and this interpreter."""
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        text = text.replace("/opt/zhibu/.venv/bin/", f"{Path(sys.executable).parent}/")
        text = text.replace("/opt/zhibu", str(ROOT)).replace("EnvironmentFile=/", "EnvironmentFile=-/")
        text = re.sub(r"^(User|Group)=zhibu$", r"\1=root", text, flags=re.M)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    command = ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())]
    result = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
