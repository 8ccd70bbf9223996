"""Gunicorn settings for production: `gunicorn --config deploy/gunicorn.conf.py` from the project folder.

Values come from the environment (see deploy/zhibu.env.example) so the systemd unit and the container
share this one file.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"

# Behind nginx on the same host by default; the container image sets 0.0.0.0:8000.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: pages are short database work; slow phones are absorbed by the proxy's buffering.
# Default 2 × cores + 1, at most 8: each worker holds a database connection (CONN_MAX_AGE).
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))

# A roster import of 5,000 rows takes about 10 s, and a ledger export runs in the request when the
# broker is down: 120 s leaves room for both and still ends a stuck worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then so a slow leak (large exports, openpyxl) cannot grow for weeks.
max_requests = 1000
max_requests_jitter = 100

# Access and error logs on stdout/stderr: journald (systemd) or `docker compose logs` keep them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'

# Gunicorn's runtime control socket (new in 25) defaults to one path per user: two instances on a host
# would fight over it. systemd (HUP to reload, TERM to stop) and Docker manage the process instead.
control_socket_disable = True

# The proxy's X-Forwarded-* headers are trusted from these addresses only.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
