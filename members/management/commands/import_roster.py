import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from branches.models import Organisation
from members import roster_import


class DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "从 Excel 导入党员名册（表头可在前几行，按中文列名识别）。逐行报告问题；无任何数据导入时以非零状态退出。"

    def add_arguments(self, parser):
        parser.add_argument("file", help=".xlsx 文件路径")
        parser.add_argument("--dry-run", action="store_true", help="只检查并报告，不写入数据库")
        parser.add_argument("--strict", action="store_true", help="任何一行有问题则全部不导入")
        parser.add_argument(
            "--update", action="store_true", help="身份证号已登记的人员：更新其基本信息（默认跳过）"
        )

    def handle(self, *args, file, dry_run=False, strict=False, update=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"找不到文件：{file}")
        try:
            with path.open("rb") as fileobj:
                _header, rows = roster_import.read_rows(fileobj, size=path.stat().st_size)
        except roster_import.ImportFileError as error:
            raise CommandError(str(error)) from error
        mode = "update" if update else "skip"
        try:
            with transaction.atomic():
                results, counts = roster_import.run_import(
                    rows=rows,
                    branch_queryset=Organisation.objects.all(),
                    mode=mode,
                    strict=strict,
                    today=timezone.localdate(),
                )
                if dry_run:
                    raise DryRun
        except DryRun:
            pass
        for number, column, message in roster_import.problems(results):
            self.stdout.write(f"第 {number} 行 [{column}] {message}")
        verb = "检查完毕（未写入）" if dry_run else "导入完毕"
        self.stdout.write(
            f"{verb}：共 {len(results)} 行，新增 {counts['created']}，更新 {counts['updated']}，"
            f"跳过（已登记）{counts['skipped']}，有问题 {counts['failed']}。"
        )
        if strict and counts["failed"]:
            self.stdout.write("严格模式：存在问题行，未导入任何数据。")
        # Rows already registered and skipped are a successful re-run; a file where no row could go in is not.
        if counts["created"] + counts["updated"] + counts["skipped"] == 0:
            sys.exit(1)
