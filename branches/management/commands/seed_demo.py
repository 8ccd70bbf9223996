from django.core.management.base import BaseCommand
from django.utils import timezone

from branches import demo
from compliance import engine
from compliance.models import Flag
from evaluations import demo as evaluations_demo
from meetings import demo as meetings_demo
from members import demo as members_demo


class Command(BaseCommand):
    help = "载入演示数据：一个镇党委及其党组织、委员会、党员和各角色的登录账号（可重复运行，不会重复创建）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="先删除演示镇及演示账号，再重新生成（仅用于开发环境）。"
        )
        parser.add_argument("--seed", type=int, default=2026, help="随机种子，相同种子生成相同数据。")

    def handle(self, *args, reset=False, seed=2026, **options):
        if reset:
            existing = demo.find_root()
            if existing is not None:
                Flag.objects.filter(branch__path__startswith=existing.path).delete()
                evaluations_demo.reset(root=existing)
                meetings_demo.reset(root=existing)
                members_demo.reset(root=existing)
            demo.reset()
            self.stdout.write("已删除原有演示数据。")
        root, counts = demo.seed(seed=seed)
        member_counts = members_demo.seed(root=root, seed=seed, today=timezone.localdate())
        meeting_counts = meetings_demo.seed(root=root, seed=seed, today=timezone.localdate())
        review_counts = evaluations_demo.seed(root=root, seed=seed, today=timezone.localdate())
        flags = engine.refresh(as_of=timezone.localdate())
        self.stdout.write(
            self.style.SUCCESS(
                f"演示数据就绪：{root.name}（新建党组织 {counts['organisations']} 个，"
                f"换届记录 {counts['terms']} 组，账号 {counts['users']} 个，"
                f"党员及入党积极分子等 {member_counts['members']} 人，党费记录 {member_counts['payments']} 条，"
                f"会议记录 {meeting_counts['meetings']} 次，民主评议 {review_counts['campaigns']} 次，"
                f"待办提醒 {flags['open']} 条）。"
            )
        )
