from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from ops import services

# How the summary names the key tables (the rest are counted, not listed).
KEY_LABELS = {
    "branches_organisation": "党组织",
    "members_member": "党员",
    "meetings_meeting": "会议",
    "meetings_attendance": "出勤记录",
    "compliance_flag": "提醒",
}


class Command(BaseCommand):
    help = "从 backup 命令生成的备份文件恢复数据库和上传文件（先完整校验备份，再覆盖当前数据）。"

    def add_arguments(self, parser):
        parser.add_argument("path", help="备份文件（.tar.gz）")
        parser.add_argument("--yes", action="store_true", help="不再询问确认（脚本中使用）")

    def handle(self, *args, path, yes=False, **options):
        self.assume_yes = yes
        try:
            result = services.restore_backup(path=path, confirm=self._confirm)
        except services.OpsError as exc:
            raise CommandError(str(exc)) from exc
        if result is None:
            self.stdout.write("已取消：数据库和上传文件均未改动。")
            return
        self.stdout.write(f"数据库已恢复；上传文件恢复 {result.media_restored} 个。")
        if result.media_kept:
            self.stdout.write(f"另有 {result.media_kept} 个上传文件不在备份中（备份之后上传），已保留。")
        for note in result.notes:
            self.stdout.write(note)
        if result.problems:
            raise CommandError("恢复后核对不一致：\n  " + "\n  ".join(result.problems))
        tables = len(result.manifest["row_counts"])
        self.stdout.write(
            self.style.SUCCESS(
                f"核对完成：{tables} 张表的行数与备份一致，"
                f"{len(result.manifest['checksums'])} 张关键表的校验和一致。"
            )
        )

    def _confirm(self, manifest, notes):
        counts = manifest["row_counts"]
        listed = "，".join(
            f"{label} {counts[table]}" for table, label in KEY_LABELS.items() if table in counts
        )
        media = sum(1 for name in manifest["files"] if name.startswith("media/"))
        self.stdout.write(
            f"备份时间：{manifest['created_at']}（程序版本 {manifest['app_version']}，"
            f"{services.ENGINE_LABELS[manifest['engine']]}）\n备份内容：{listed}；上传文件 {media} 个。"
        )
        if self.assume_yes:
            return True
        self.stdout.write(
            f"恢复将用备份覆盖当前数据库（{connection.settings_dict['NAME']}）和上传文件目录"
            f"（{settings.MEDIA_ROOT}），备份之后的修改将丢失。"
        )
        try:
            answer = input("确认恢复请输入 yes：")
        except EOFError:
            return False
        return answer.strip().lower() == "yes"
