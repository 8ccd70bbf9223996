"""`manage.py bench --scale S|M|L`: the benchmark table, measured in one run on generated data.

The data lives in a database of its own (scale/databases.py): PostgreSQL `zhibu_bench_<scale>`
next to DATABASE_URL's, or var/bench-<scale>.sqlite3. It is generated on the first run and reused
while it holds that scale and seed; --rebuild makes it again. The table is also written to
bench/results.json with the machine and the date.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scale import bench, databases
from scale.generate import SCALES, generate, read_marker

REBUILD_EXIT = 3


class Command(BaseCommand):
    help = "基准测试：在单独的基准数据库中生成（或复用）规模数据，测量并打印一张结果表。"

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="S")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--rebuild", action="store_true", help="删除并重新生成基准数据库。")
        parser.add_argument("--requests", type=int, default=50, help="每个页面的请求次数。")
        parser.add_argument("--import-rows", type=int, default=5000)
        parser.add_argument("--clients", type=int, default=50, help="并发录入的客户端数。")
        parser.add_argument("--meetings", type=int, default=20, help="每个客户端录入的会议数。")
        parser.add_argument("--no-load", action="store_true", help="不启动 gunicorn 做并发录入。")
        parser.add_argument(
            "--only",
            action="append",
            choices=sorted(bench.BY_NAME),
            help="只测这些项目（可重复），如 --only pages。",
        )
        parser.add_argument("--results", default=str(Path(settings.BASE_DIR) / "bench" / "results.json"))

    def handle(self, *args, **options):
        if os.environ.get(databases.ENV_FLAG) != "1":
            return self._outer(options)
        return self._inner(options)

    def _outer(self, options):
        """Run the benchmark in a child process whose DATABASE_URL is the benchmark database."""
        url = databases.bench_url(options["scale"])
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench", *sys.argv[2:]]
        argv = [a for a in argv if a != "--rebuild"]
        static_root = Path(settings.BASE_DIR) / "var" / "bench-static"
        env = {**os.environ, "DATABASE_URL": url, databases.ENV_FLAG: "1", "STATIC_ROOT": str(static_root)}
        self.stdout.write(f"基准数据库：{url.split('@')[-1]}")
        if options["rebuild"]:
            databases.recreate(url)
        else:
            databases.ensure(url)
        code = subprocess.call(argv, env=env)  # noqa: S603
        if code == REBUILD_EXIT:
            self.stdout.write("基准数据库中的数据不是这一规模和种子：重新生成。")
            databases.recreate(url)
            code = subprocess.call(argv, env=env)  # noqa: S603
        if code:
            raise CommandError(f"基准测试失败（退出码 {code}）。")

    def _inner(self, options):
        scale, seed = options["scale"], options["seed"]
        call_command("migrate", verbosity=0, interactive=False)
        # Pages render with the production static storage (hashed names from the manifest).
        call_command("collectstatic", verbosity=0, interactive=False)
        markers = read_marker()
        generation = None
        if markers and not any(m[0] == scale and m[1] == seed for m in markers):
            sys.exit(REBUILD_EXIT)
        if not markers:
            from branches.models import Organisation

            if Organisation.objects.exists():
                sys.exit(REBUILD_EXIT)
            self.stdout.write(f"生成规模数据 {scale}（{SCALES[scale].label}，种子 {seed}）…")
            started = time.perf_counter()
            _generator, counts = generate(scale=scale, seed=seed, progress=self.stdout.write)
            generation = {"seconds": round(time.perf_counter() - started, 1), **counts}
        else:
            import json

            generation = {"reused": markers[0][2], **json.loads(markers[0][4])}
        ctx = bench.Context(
            scale=scale,
            today=timezone.localdate(),
            requests=options["requests"],
            import_rows=options["import_rows"],
            load_clients=options["clients"],
            load_meetings=options["meetings"],
            load=not options["no_load"],
            database_url=os.environ.get("DATABASE_URL", ""),
        )
        lines = [bench.Line("数据规模", _describe(scale, generation))]
        if "seconds" in generation:
            lines.append(bench.Line("数据生成耗时", f"{generation['seconds']:.0f} s", "M 级：几分钟"))
        chosen = [bench.BY_NAME[name] for name in options["only"]] if options["only"] else None
        lines += bench.run(ctx, chosen, progress=self.stderr.write)
        self.stdout.write("")
        self.stdout.write(bench.table(lines))
        bench.write_results(options["results"], scale=scale, seed=seed, lines=lines, generation=generation)
        self.stdout.write(f"\n结果已写入 {options['results']}")


def _describe(scale, counts):
    def n(label):
        return f"{counts.get(label, 0):,}"

    return (
        f"{scale}：支部 {n('organisations_branches')}，党员 {n('members.Member')}，会议 {n('meetings.Meeting')}，"
        f"出勤 {n('meetings.Attendance')}"
    )
