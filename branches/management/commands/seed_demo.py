from django.core.management.base import BaseCommand

from branches import demo


class Command(BaseCommand):
    help = "载入演示数据：一个镇党委及其党组织、委员会和各角色的登录账号（可重复运行，不会重复创建）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="先删除演示镇及演示账号，再重新生成（仅用于开发环境）。"
        )
        parser.add_argument("--seed", type=int, default=2026, help="随机种子，相同种子生成相同数据。")

    def handle(self, *args, reset=False, seed=2026, **options):
        if reset:
            demo.reset()
            self.stdout.write("已删除原有演示数据。")
        root, counts = demo.seed(seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"演示数据就绪：{root.name}（新建党组织 {counts['organisations']} 个，"
                f"换届记录 {counts['terms']} 组，账号 {counts['users']} 个）。"
            )
        )
