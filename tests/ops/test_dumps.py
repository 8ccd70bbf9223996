"""How the PostgreSQL tools are called: connection settings from DATABASES, the password only in the
environment (a command line is visible to every user through `ps`), and messages an operator can act on."""

import subprocess
from types import SimpleNamespace

import pytest

from ops import dumps

SETTINGS = {
    "NAME": "zhibu",
    "USER": "zhibu",
    "PASSWORD": "s3cret-Pass",
    "HOST": "db.internal",
    "PORT": 5433,
    "OPTIONS": {"sslmode": "require"},
}


@pytest.fixture
def calls(monkeypatch):
    made = []

    def run(arguments, *, env, **options):
        made.append((arguments, env))
        return subprocess.CompletedProcess(arguments, 0, "", "")

    monkeypatch.setattr(dumps.subprocess, "run", run)
    return made


def test_the_password_travels_in_the_environment_never_in_the_arguments(calls, tmp_path):
    connection = SimpleNamespace(settings_dict=SETTINGS)
    dumps.pg_dump(connection, tmp_path / "database.dump", snapshot="00000003-1")
    dumps.pg_restore(connection, tmp_path / "database.dump")

    (dump_args, dump_env), (restore_args, restore_env) = calls
    assert (
        dump_args[0] == "pg_dump" and "--format=custom" in dump_args and "--snapshot=00000003-1" in dump_args
    )
    assert restore_args[0] == "pg_restore"
    assert {"--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname=zhibu"} <= set(
        restore_args
    )
    for arguments, env in calls:
        assert not any("s3cret" in argument for argument in arguments)
        assert env["PGPASSWORD"] == "s3cret-Pass" and env["PGHOST"] == "db.internal"
        assert env["PGPORT"] == "5433" and env["PGUSER"] == "zhibu" and env["PGSSLMODE"] == "require"


def test_a_missing_client_says_what_to_install(monkeypatch, tmp_path):
    def run(arguments, **options):
        raise FileNotFoundError(arguments[0])

    monkeypatch.setattr(dumps.subprocess, "run", run)
    with pytest.raises(dumps.DumpError, match="找不到 pg_dump.*postgresql-client"):
        dumps.pg_dump(SimpleNamespace(settings_dict=SETTINGS), tmp_path / "d", snapshot="x")


def test_a_failed_restore_reports_the_tool_output_and_that_nothing_changed(monkeypatch, tmp_path):
    def run(arguments, **options):
        return subprocess.CompletedProcess(arguments, 1, "", "pg_restore: error: permission denied")

    monkeypatch.setattr(dumps.subprocess, "run", run)
    with pytest.raises(dumps.DumpError, match="数据库未改动.*permission denied"):
        dumps.pg_restore(SimpleNamespace(settings_dict=SETTINGS), tmp_path / "d")
