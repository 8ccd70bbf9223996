"""Real-browser end-to-end tests: Debian's chromium driven by Playwright against a live server.

The session starts `manage.py runserver` on a free 127.0.0.1 port, against a database of its own
(a scratch SQLite file, or a scratch PostgreSQL database next to DATABASE_URL's), migrated and seeded
with the demo once. Celery runs eagerly inside the server, so a write refreshes its branch's flags and an
export finishes within the request. Every page is watched: console errors, uncaught exceptions and any
request that is not for 127.0.0.1 / localhost (blocked) fail the test.

Screenshots go to e2e-artifacts/ (one per main step, named journey-step).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e-artifacts"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "zhibu2026"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Keep the browser offline: no component updates, safe-browsing lists, sync, metrics or field trials.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-field-trial-config",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--dns-prefetch-disable",
]
STEP_TIMEOUT_MS = 30_000

expect.set_options(timeout=STEP_TIMEOUT_MS)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scratch_database(workdir):
    """A DATABASE_URL for a database of our own, and a function that removes it."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        import psycopg2

        parts = urlsplit(url)
        name = f"zhibu_e2e_{os.getpid()}"
        admin = parts._replace(path="/postgres").geturl()

        def run(sql):
            conn = psycopg2.connect(admin)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
            finally:
                conn.close()

        run(f"DROP DATABASE IF EXISTS {name}")
        run(f"CREATE DATABASE {name}")
        return parts._replace(path=f"/{name}").geturl(), lambda: run(f"DROP DATABASE IF EXISTS {name}")
    return f"sqlite:///{workdir / 'e2e.sqlite3'}", lambda: None


def _wait_for_http(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"runserver exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)  # polling a condition: the server accepting connections
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def live_url():
    workdir = Path(tempfile.mkdtemp(prefix="zhibu-e2e-"))
    database_url, drop = _scratch_database(workdir)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DEBUG": "0",
        "HTTPS": "0",
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    log = open(workdir / "server.log", "w")  # noqa: SIM115 (kept open for the server's lifetime)
    server = None
    try:
        for args in (["migrate", "--noinput", "-v0"], ["seed_demo"], ["collectstatic", "--noinput", "-v0"]):
            subprocess.run(
                [*manage, *args], env=env, cwd=ROOT, check=True, stdout=log, stderr=subprocess.STDOUT
            )
        port = _free_port()
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        _wait_for_http(f"{base}/accounts/login/", server)
        yield base
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        log.close()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install -y chromium fonts-wqy-microhei` (make e2e does it)"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def _artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


class Watch:
    """What went wrong in the browser: console errors, page errors, requests that would leave the machine."""

    def __init__(self):
        self.console_errors = []
        self.page_errors = []
        self.external_requests = []

    def attach(self, context):
        def route(route):
            host = urlsplit(route.request.url).hostname
            if host in LOCAL_HOSTS:
                route.continue_()
            else:
                self.external_requests.append(route.request.url)
                route.abort("blockedbyclient")

        context.route("**/*", route)
        context.on("page", self.watch_page)

    def watch_page(self, page):
        page.on(
            "console", lambda m: m.type == "error" and self.console_errors.append(f"{page.url}: {m.text}")
        )
        page.on("pageerror", lambda e: self.page_errors.append(f"{page.url}: {e}"))

    def assert_clean(self):
        assert self.external_requests == [], "requests that would leave 127.0.0.1"
        assert self.page_errors == [], "uncaught JavaScript errors"
        assert self.console_errors == [], "console errors"


@pytest.fixture
def open_browser(browser, live_url):
    """open_browser(viewport=(w, h), phone=False) -> a fresh, watched page (its own cookies)."""
    watch = Watch()
    contexts = []

    def make(viewport, *, phone=False):
        context = browser.new_context(
            base_url=live_url,
            viewport={"width": viewport[0], "height": viewport[1]},
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            accept_downloads=True,
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        watch.attach(context)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    watch.assert_clean()


@pytest.fixture
def shot(request):
    """shot(page, "step"): a full-page screenshot e2e-artifacts/<journey>-<nn>-<step>.png."""
    journey = re.sub(r"^test_", "", request.node.name)
    counter = iter(range(1, 100))

    def take(page, step):
        path = ARTIFACTS / f"{journey}-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login():
    """login(page, username): signs in through the login form with the demo password."""
    return sign_in


def sign_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
