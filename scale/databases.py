"""The benchmark's own database, derived from DATABASE_URL: PostgreSQL `zhibu_bench_<scale>` on the same
server, or for SQLite the file var/bench-<scale>.sqlite3. The product's database is never touched."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

ENV_FLAG = "ZHIBU_BENCH_DATABASE"


def bench_url(scale, current_url=None):
    current = current_url if current_url is not None else os.environ.get("DATABASE_URL", "")
    parts = urlsplit(current)
    if parts.scheme.startswith("postgres"):
        return urlunsplit(parts._replace(path=f"/zhibu_bench_{scale.lower()}"))
    path = Path(settings.BASE_DIR) / "var" / f"bench-{scale}.sqlite3"
    return f"sqlite:///{path}"


def _admin_connection(url):
    import psycopg2

    parts = urlsplit(url)
    connection = psycopg2.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
    )
    connection.autocommit = True
    return connection


def recreate(url):
    """Drop and create the benchmark database (empty)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres"):
        name = parts.path.lstrip("/")
        connection = _admin_connection(url)
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return
    path = Path(parts.path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


def ensure(url):
    """Create the benchmark database if it does not exist yet."""
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres"):
        name = parts.path.lstrip("/")
        connection = _admin_connection(url)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return
    Path(parts.path).parent.mkdir(parents=True, exist_ok=True)
