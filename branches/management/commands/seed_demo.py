import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from branches import demo
from compliance import demo as compliance_demo
from compliance import engine
from compliance.models import Flag
from evaluations import demo as evaluations_demo
from meetings import demo as meetings_demo
from members import demo as members_demo
from scale.generate import SCALES, generate, read_marker


class Command(BaseCommand):
    help = "载入演示数据：一个镇党委及其党组织、委员会、党员和各角色的登录账号（可重复运行，不会重复创建）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="先删除演示镇及演示账号，再重新生成（仅用于开发环境）。"
        )
        parser.add_argument("--seed", type=int, default=2026, help="随机种子，相同种子生成相同数据。")
        parser.add_argument(
            "--scale",
            choices=sorted(SCALES),
            help="批量生成规模数据（直接写表）：S 一个乡镇，M 一个县，L 一个大区；T 仅供测试。不加此项则载入青溪镇演示数据。",
        )

    def handle(self, *args, reset=False, seed=2026, scale=None, **options):
        if scale:
            return self._scale(scale, seed)
        if reset:
            existing = demo.find_root()
            if existing is not None:
                Flag.objects.filter(branch__path__startswith=existing.path).delete()
                evaluations_demo.reset(root=existing)
                meetings_demo.reset(root=existing)
                members_demo.reset(root=existing)
                compliance_demo.reset(root=existing)
            demo.reset()
            self.stdout.write("已删除原有演示数据。")
        root, counts = demo.seed(seed=seed)
        compliance_demo.seed(root=root, today=timezone.localdate())
        member_counts = members_demo.seed(root=root, seed=seed, today=timezone.localdate())
        meeting_counts = meetings_demo.seed(root=root, seed=seed, today=timezone.localdate())
        review_counts = evaluations_demo.seed(root=root, seed=seed, today=timezone.localdate())
        flags = engine.refresh(as_of=timezone.localdate())
        self.stdout.write(
            self.style.SUCCESS(
                f"演示数据就绪：{root.name}（新建党组织 {counts['organisations']} 个，"
                f"换届记录 {counts['terms']} 组，账号 {counts['users']} 个，"
                f"党员及入党积极分子等 {member_counts['members']} 人，党费记录 {member_counts['payments']} 条，"
                f"学习培训记录 {member_counts.get('training', 0)} 条，"
                f"会议记录 {meeting_counts['meetings']} 次，民主评议 {review_counts['campaigns']} 次，"
                f"待办提醒 {flags['open']} 条）。"
            )
        )

    def _scale(self, scale, seed):
        done = [row for row in read_marker() if row[0] == scale and row[1] == seed]
        if done:
            self.stdout.write(f"规模数据 {scale}（种子 {seed}）已于 {done[0][2]} 生成，未重复生成。")
            return
        started = time.perf_counter()
        _generator, counts = generate(scale=scale, seed=seed, progress=self.stdout.write)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"规模数据 {scale}（{SCALES[scale].label}，种子 {seed}）生成完毕，用时 {elapsed:.0f} 秒："
            )
        )
        for label, count in counts.items():
            self.stdout.write(f"  {label:<40}{count:>12,}")
