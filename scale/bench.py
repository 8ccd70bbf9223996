"""The benchmark: a list of measurement functions, each returning its lines of one table.

A line is a figure, its value, and the target it is judged by (with OK / 未达标). Everything is
measured in one run on the data in the current database (the benchmark database, see
databases.py); writes are rolled back or removed afterwards, so the data can be reused.
To add a figure (dashboards of issue F, ledger exports of issue G), add a function to MEASUREMENTS.
"""

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import connection, reset_queries, transaction
from django.db.models import Count, Min
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Organisation, OrgLevel, Role, RoleAssignment
from compliance import engine, periods
from compliance.models import Flag
from ledgers.management.commands.bench_ledger import measure as ledger_measure
from meetings import services as meeting_services
from meetings.models import Attendance, Meeting, MeetingType, MeetingTypeTag

from .generate import SCALES

FLOOR_SQL = (
    "SELECT (SELECT count(*) FROM meetings_meeting) + (SELECT count(*) FROM meetings_meetingtypetag)"
    " + (SELECT count(*) FROM meetings_attendance)"
)


@dataclass
class Line:
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Context:
    scale: str
    today: date
    requests: int = 50
    import_rows: int = 5_000
    ledger_rows: int = 30_000
    ledger_memory_rows: int = 100_000
    load_clients: int = 50
    load_meetings: int = 20
    load: bool = True
    database_url: str = ""


class Rollback(Exception):
    pass


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def _as_committed(function):
    """The function, then the checks its commit would run: the bench rolls back, which would skip the
    deferred constraint checks that a real run pays for at commit."""

    def run():
        result = function()
        if connection.vendor != "postgresql":
            return result
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fires the checks deferred so far
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return result

    return run


NIGHT_SAMPLES = 3


def _median_undone(function, samples=NIGHT_SAMPLES):
    """The median time of the function run `samples` times, each undone before the next, so that every
    run starts from the same flags: one run of a night varies by half from run to run on this machine."""
    times = []
    for _ in range(samples):
        periods.clear_day_caches()  # a night comes with a new date: what is cached per date is cold
        try:
            with transaction.atomic():
                times.append(_timed(function)[0])
                raise Rollback
        except Rollback:
            pass
    return statistics.median(times), times


def _spread(times):
    return f"{min(times):.2f}–{max(times):.2f} s"


def _ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def _users():
    """The logins the generator made: the county and township offices, a branch secretary."""
    by_role = {}
    for suffix in ("county", "office", "secretary"):
        found = (
            RoleAssignment.objects.filter(user__username__in=[f"{s.lower()}_{suffix}" for s in SCALES])
            .select_related("user", "organisation")
            .first()
        )
        if found:
            by_role[suffix] = found
    if "office" not in by_role:  # not generated data (e.g. the demo township): fall back to any roles
        for role, suffix in ((Role.TOWNSHIP_ADMIN, "office"), (Role.SECRETARY, "secretary")):
            found = RoleAssignment.objects.filter(role=role).select_related("user", "organisation").first()
            if found:
                by_role[suffix] = found
    return by_role


# ---------------------------------------------------------------- compliance


def measure_compliance(ctx):
    lines = []
    try:
        with transaction.atomic():
            lines = _compliance(ctx)
            raise Rollback
    except Rollback:
        pass
    _vacuum_flags()
    return lines


def _vacuum_flags():
    """The rolled-back rebuild leaves a few hundred thousand dead flag rows behind, which autovacuum would
    clear within minutes on a server; the pages measured next must not read through them."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:  # tests run inside one
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE compliance_flag")


def _compliance(ctx):
    today = ctx.today
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL)  # warm the cache: the refresh runs on a warm database too
        floor = statistics.median(
            _timed(lambda: cursor.execute(FLOOR_SQL) or cursor.fetchone())[0] for _ in range(NIGHT_SAMPLES)
        )
        cursor.execute(FLOOR_SQL)
        rows = cursor.fetchone()[0]
    first = Meeting.objects.aggregate(first=Min("held_on"))["first"]
    if not rows or first is None:
        return [Line("合规刷新", "没有会议记录：请先生成数据", "")]
    since = date(first.year, 1, 1)
    # The nights first, on the flags as generated (committed, analyzed: as a server has them at night;
    # right after the rebuild below they would read through its uncommitted rows). The nightly run with
    # no run before it judges everything a day can move (as on 1 January); after yesterday's run, only
    # what today moved (on most days, the deadlines counted in days).
    nightly, nights = _median_undone(_as_committed(lambda: engine.refresh(as_of=today, time_only=True)))
    engine.refresh(as_of=today, time_only=True)  # tonight's run, which the next measures the night after
    yesterday = today - timedelta(days=1)
    ordinary, ordinaries = _median_undone(
        _as_committed(lambda: engine.refresh(as_of=today, time_only=True, judged_through=yesterday))
    )
    Flag.objects.all().delete()
    full, result = _timed(_as_committed(lambda: engine.refresh(as_of=today, since=since)))
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        rerun = engine.refresh(as_of=today)
    writes = sum(1 for q in queries if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"))
    busiest = list(
        Meeting.objects.filter(voided_at__isnull=True)
        .values("branch_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("branch_id", flat=True)[:2]
    )
    branch_id, earlier = busiest[0], busiest[-1]
    # An earlier write of the day, in another branch: its refresh compiles the statement that later
    # writes' refreshes bind to their own branch.
    engine.FOLDED.clear()
    first_time, _ = _timed(lambda: engine.refresh(as_of=today, branch_ids=[earlier]))
    meeting = Meeting.objects.filter(branch_id=branch_id, voided_at__isnull=True).order_by("-held_on").first()
    Meeting.objects.filter(pk=meeting.pk).update(topic=meeting.topic + "（修订）")  # the write
    reset_queries()
    with CaptureQueriesContext(connection) as one:
        one_time, _ = _timed(lambda: engine.refresh(as_of=today, branch_ids=[branch_id]))
    return [
        Line("合规：读取行数（会议+类型+出勤）", f"{rows:,}"),
        Line(f"合规：下限（一次 count(*) 扫描，{NIGHT_SAMPLES} 次取中位数）", _ms(floor)),
        Line(
            f"合规：全量重建（自 {since.year} 年，{result['open']:,} 条提醒）",
            f"{full:.2f} s = {full / floor:.0f}× 下限",
            "≤ 10× 下限",
            full <= 10 * floor,
        ),
        Line(
            f"合规：夜间刷新（全部按日历重判，如元旦；{len(nights)} 次取中位数）",
            f"{nightly:.2f} s = {nightly / floor:.1f}× 下限（{_spread(nights)}）",
            "≤ 3× 下限",
            nightly <= 3 * floor,
        ),
        Line(
            f"合规：夜间刷新（{today:%m-%d}，前一夜已运行；{len(ordinaries)} 次取中位数）",
            f"{ordinary:.2f} s = {ordinary / floor:.1f}× 下限（{_spread(ordinaries)}）",
            "≤ 3× 下限",
            ordinary <= 3 * floor,
        ),
        Line(
            "合规：重跑写入行数 / 写语句",
            f"{rerun['raised'] + rerun['resolved']} / {writes}",
            "0 / 0",
            rerun["raised"] + rerun["resolved"] == 0 and writes == 0,
        ),
        Line("合规：写入后单支部刷新 查询数", str(len(one)), "≤ 5", len(one) <= 5),
        Line("合规：写入后单支部刷新 耗时", _ms(one_time), "≤ 50 ms", one_time <= 0.05),
        Line("合规：当天进程内首次单支部刷新（编译语句）", _ms(first_time)),
    ]


# ---------------------------------------------------------------- pages


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _page(client, url, count):
    response = client.get(url)  # warm-up (templates, caches)
    assert response.status_code == 200, (url, response.status_code)
    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        client.get(url)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    return len(queries), statistics.median(times), _percentile(times, 0.95)


def measure_pages(ctx):
    users = _users()
    lines = []
    if "office" not in users:
        return [Line("页面", "没有党委管理员账号：请先生成数据")]
    office = users["office"]
    client = Client()
    client.force_login(office.user)
    _q, empty_p50, empty_p95 = _page(client, reverse("password_change_done"), ctx.requests)
    lines.append(Line("空页面（基线） p50 / p95", f"{_ms(empty_p50)} / {_ms(empty_p95)}"))
    pages = [
        ("乡镇看板", client, reverse("dashboards:township"), office.organisation.name),
        ("会议列表", client, reverse("meetings:list"), office.organisation.name),
        ("党员列表", client, reverse("members:list"), office.organisation.name),
    ]
    if "secretary" in users:
        secretary = users["secretary"]
        branch_client = Client()
        branch_client.force_login(secretary.user)
        pages.insert(
            0,
            ("支部首页", branch_client,
             reverse("dashboards:branch", args=[secretary.organisation_id]), secretary.organisation.name),
        )  # fmt: skip
    if "county" in users:
        county = Client()
        county.force_login(users["county"].user)
        pages += [
            ("县级看板", county, reverse("dashboards:township"), users["county"].organisation.name),
            ("会议列表（全县）", county, reverse("meetings:list"), users["county"].organisation.name),
            ("党员列表（全县）", county, reverse("members:list"), users["county"].organisation.name),
        ]
    for label, page_client, url, scope in pages:
        queries, p50, p95 = _page(page_client, url, ctx.requests)
        lines.append(
            Line(
                f"{label} [{scope}] 查询数 / p50 / p95（{ctx.requests} 次）",
                f"{queries} / {_ms(p50)} / {_ms(p95)} = {p50 / empty_p50:.1f}× 空页面",
                "p95 ≤ 300 ms",
                p95 <= 0.3,
            )
        )
    return lines


# ---------------------------------------------------------------- ledger export (issue G)


LEDGER_CHECKS = {"≥ 0.8": lambda v: v >= 0.8, "≤ 150": lambda v: v <= 150}


def measure_ledger_export(ctx):
    return [
        Line(
            f"台账导出：{name}",
            f"{value:,}",
            target,
            LEDGER_CHECKS[target](value) if target in LEDGER_CHECKS else None,
        )
        for name, value, target in ledger_measure(
            throughput_rows=ctx.ledger_rows, memory_rows=ctx.ledger_memory_rows
        )
    ]


# ---------------------------------------------------------------- roster import


def measure_roster_import(ctx):
    from . import roster_import

    result = roster_import.run(rows=ctx.import_rows)
    target = 10.0 * ctx.import_rows / 5000
    return [
        Line(
            f"名册导入 {ctx.import_rows:,} 行",
            f"{result['seconds']:.2f} s（新建 {result['created']:,}），{result['queries']} 次查询，"
            f"{result['seconds'] / result['floor']:.1f}× openpyxl 读取",
            f"≤ {target:g} s",
            result["seconds"] <= target,
        )
    ]


# ---------------------------------------------------------------- load through a real server


def measure_load(ctx):
    label = f"并发录入：{ctx.load_clients} 个客户端 × {ctx.load_meetings} 次会议"
    if not ctx.load:
        return [Line(label, "未运行（--no-load）", "全部恰好一次，0 个 5xx，重放不新增")]
    if not ctx.database_url:
        return [Line(label, "未运行（没有可供服务器连接的数据库地址）", "全部恰好一次，0 个 5xx，重放不新增")]
    run = uuid.uuid4().hex[:8]
    clients = _load_clients(ctx, run)
    if len(clients) < ctx.load_clients:
        return [Line(label, f"只有 {len(clients)} 个可用支部", "")]
    env = {**os.environ, "DATABASE_URL": ctx.database_url, "DEBUG": "0", "STATIC_ROOT": str(settings.STATIC_ROOT),
           "CELERY_TASK_ALWAYS_EAGER": "1", "CONN_MAX_AGE": "60"}  # fmt: skip
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "4",
         "--timeout", "120", "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        _wait_for(port)
        first, first_elapsed = _fire(port, clients, replay=False)
        replay, _ = _fire(port, clients, replay=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    tokens = [t for c in clients for t in c["tokens"]]
    created = Meeting.objects.filter(submit_token__in=tokens)
    per_token = created.values("submit_token").annotate(n=Count("id"))
    exactly_once = sum(1 for row in per_token if row["n"] == 1)
    total = created.count()
    errors = sum(1 for status, _t in first + replay if status >= 500 or status == 0)
    other = sum(1 for status, _t in first + replay if status not in (302,) and status < 500 and status != 0)
    latencies = [t for _s, t in first]
    _remove(created, clients)
    expected = ctx.load_clients * ctx.load_meetings
    return [
        Line(
            label,
            f"{exactly_once:,}/{expected:,} 恰好一次（共 {total:,} 条）；5xx {errors}，其他非 302 {other}",
            f"{expected:,} 恰好一次，0 个 5xx",
            exactly_once == expected == total and errors == 0 and other == 0,
        ),
        Line(
            "并发录入：重放（同一表单再提交一次）新增",
            str(total - exactly_once),
            "0",
            total == exactly_once,
        ),
        Line(
            "并发录入：吞吐 / p50 / p95",
            f"{len(first) / first_elapsed:.1f} 次/秒 / {_ms(statistics.median(latencies))} / "
            f"{_ms(_percentile(latencies, 0.95))}",
        ),
    ]


def _load_clients(ctx, run):
    """One secretary per branch, logged in by a session made here; the 应到 list each form will post."""
    from django.contrib.sessions.backends.db import SessionStore

    User = get_user_model()
    branches = list(
        Organisation.objects.filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True)
        .annotate(n=Count("members"))
        .filter(n__gt=0)
        .order_by("path")[: ctx.load_clients]
    )
    clients = []
    for index, branch in enumerate(branches):
        user, _ = User.objects.get_or_create(username=f"bench_load_{index:03d}")
        RoleAssignment.objects.get_or_create(user=user, organisation=branch, role=Role.SECRETARY)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        expected = meeting_services.attendance_list(
            branch=branch, types=[MeetingType.GENERAL_MEETING], held_on=ctx.today
        )
        csrf = uuid.uuid4().hex
        forms = []
        for number in range(ctx.load_meetings):
            token = f"load-{run}-{index:03d}-{number:03d}"
            data = [("csrfmiddlewaretoken", csrf), ("types", MeetingType.GENERAL_MEETING),
                    ("held_on", ctx.today.isoformat()), ("topic", f"负载测试：支部党员大会 {number + 1}"),
                    ("token", token), ("rect-TOTAL_FORMS", "0"), ("rect-INITIAL_FORMS", "0")]  # fmt: skip
            data += [(f"att_{row.member_id}", "present") for row in expected]
            forms.append((token, urlencode(data)))
        clients.append({
            "branch": branch.pk, "cookie": f"sessionid={session.session_key}; csrftoken={csrf}",
            "forms": forms, "tokens": [t for t, _f in forms],
        })  # fmt: skip
    return clients


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/accounts/login/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn 未能启动")


def _fire(port, clients, *, replay):
    """Every client posts its forms one after another; all clients at once. Returns [(status, seconds)]."""
    results, lock = [], threading.Lock()
    barrier = threading.Barrier(len(clients))

    def client(spec):
        barrier.wait()
        for _token, body in spec["forms"]:
            started = time.perf_counter()
            status = 0
            try:
                conn = HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("POST", f"/meetings/new/?branch={spec['branch']}", body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Cookie": spec["cookie"],
                })  # fmt: skip
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except OSError:
                status = 0
            with lock:
                results.append((status, time.perf_counter() - started))

    threads = [threading.Thread(target=client, args=(spec,)) for spec in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def _remove(created, clients):
    """Take the load test's meetings out again so the benchmark data stays as generated."""
    ids = list(created.values_list("pk", flat=True))
    # Rows first, their history after: deleting a row writes a "deleted" history record.
    Attendance.objects.filter(meeting_id__in=ids).delete()
    MeetingTypeTag.objects.filter(meeting_id__in=ids).delete()
    Flag.objects.filter(meeting_id__in=ids).delete()
    Meeting.objects.filter(pk__in=ids).delete()
    Attendance.history.filter(meeting_id__in=ids).delete()
    MeetingTypeTag.history.filter(meeting_id__in=ids).delete()
    Meeting.history.filter(id__in=ids).delete()
    engine.refresh(as_of=timezone.localdate(), branch_ids=[c["branch"] for c in clients])


MEASUREMENTS = [measure_compliance, measure_pages, measure_ledger_export, measure_roster_import, measure_load]
BY_NAME = {"compliance": measure_compliance, "pages": measure_pages, "ledger": measure_ledger_export,
           "import": measure_roster_import, "load": measure_load}  # fmt: skip


# ---------------------------------------------------------------- running and reporting


def run(ctx, measurements=None, progress=None):
    lines = []
    for measure in measurements or MEASUREMENTS:
        if progress:
            progress(f"测量：{measure.__name__} …")
        lines += measure(ctx)
    return lines


def table(lines):
    width = max(_width(line.figure) for line in lines) + 2
    vwidth = max(_width(line.value) for line in lines) + 2
    out = [_pad("项目", width) + _pad("结果", vwidth) + "目标"]
    for line in lines:
        mark = "" if line.ok is None else ("  OK" if line.ok else "  未达标")
        out.append(_pad(line.figure, width) + _pad(line.value, vwidth) + line.target + mark)
    return "\n".join(out)


def _width(text):
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text, width):
    return text + " " * max(width - _width(text), 1)


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            memory = f"{int(info.readline().split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]}"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory, "os": platform.platform(),
            "python": platform.python_version(), "database": database}  # fmt: skip


def write_results(path, *, scale, seed, lines, generation):
    path = Path(path)
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results[scale] = {
        "date": timezone.now().isoformat(timespec="seconds"),
        "seed": seed,
        "machine": machine(),
        "generation": generation,
        "lines": [asdict(line) for line in lines],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def default_today():
    return timezone.localdate()


__all__ = ["MEASUREMENTS", "Context", "Line", "run", "table", "write_results", "timedelta"]
