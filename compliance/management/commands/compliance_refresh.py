from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance import engine, services


class Command(BaseCommand):
    help = "刷新合规提醒：计算逾期、即将到期和需要关注的事项，只写入有变化的部分。"

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="按哪一天判断（YYYY-MM-DD），默认今天")
        parser.add_argument("--branch", type=int, action="append", help="只刷新该支部（可多次指定）")
        parser.add_argument("--since", help="重新判断在该日期之后结束的周期（YYYY-MM-DD），默认去年1月1日")
        parser.add_argument(
            "--time-only", action="store_true", help="只判断时间推移带来的变化，同夜间刷新（不重查记录质量）"
        )

    def handle(self, *args, as_of=None, branch=None, since=None, time_only=False, **options):
        try:
            as_of = date.fromisoformat(as_of) if as_of else timezone.localdate()
            since = date.fromisoformat(since) if since else None
        except ValueError as error:
            raise CommandError("日期格式应为 YYYY-MM-DD") from error
        result = engine.refresh(as_of=as_of, branch_ids=branch, since=since, time_only=time_only)
        # Kept, so that the next night knows what this run judged (as of another day, it judges everything).
        services.record_run(as_of=as_of, result=result, time_only=time_only, branch_ids=branch, since=since)
        self.stdout.write(
            f"按 {as_of} 刷新：新提醒 {result['raised']} 条，解除 {result['resolved']} 条，当前 {result['open']} 条。"
        )
