from django.core.management.base import BaseCommand, CommandError

from ops import services


class Command(BaseCommand):
    help = "备份数据库和上传文件，生成一个 .tar.gz 文件（内含数据库导出、上传文件和 manifest.json）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            help="备份文件路径，或一个目录（文件名自动取 zhibu-日期-时间.tar.gz）；默认 var/backups/",
        )
        parser.add_argument("--keep", type=int, help="只保留该目录中最新的 N 个备份（夜间定时备份用）")

    def handle(self, *args, output=None, keep=None, **options):
        try:
            path, manifest = services.create_backup(output=output, keep=keep)
        except services.OpsError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["row_counts"].values())
        media = sum(1 for name in manifest["files"] if name.startswith("media/"))
        size = path.stat().st_size / (1 << 20)
        self.stdout.write(
            f"备份完成：{path}（{services.ENGINE_LABELS[manifest['engine']]}，"
            f"{len(manifest['row_counts'])} 张表共 {rows} 行，上传文件 {media} 个，{size:.1f} MB）"
        )
