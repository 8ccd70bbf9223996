"""台账 for scripted use: a branch's workbook, a township's summary workbook, or all its branches in a zip."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from branches.models import Organisation, OrgLevel
from ledgers import exports, services, xlsx

TOWNSHIP_LEVELS = (OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH)


def find_organisation(value, levels):
    """By id, or by exact name (refusing a name that several organisations share)."""
    qs = Organisation.objects.filter(level__in=levels)
    if value.isdigit():
        found = qs.filter(pk=int(value)).first()
        if found:
            return found
    matches = list(qs.filter(name=value)[:2])
    if len(matches) > 1:
        raise CommandError(f"有多个党组织名为“{value}”，请改用编号。")
    if not matches:
        raise CommandError(f"没有找到党组织“{value}”（请用编号或完整名称）。")
    return matches[0]


class Command(BaseCommand):
    help = "导出台账：--branch 支部台账，--township 汇总台账（加 --zip 导出全部支部台账压缩包）。"

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--branch", help="党支部编号或完整名称")
        scope.add_argument("--township", help="党委或党总支编号或完整名称")
        parser.add_argument("--year", type=int, default=None, help="年度（默认今年）")
        parser.add_argument("--output", required=True, help="输出文件（.xlsx，--zip 时为 .zip）")
        parser.add_argument("--zip", action="store_true", help="与 --township 一起用：每个支部一个工作簿")
        parser.add_argument("--user", help="按该用户的权限脱敏（默认身份证号、电话全部脱敏）")

    def handle(self, *args, branch=None, township=None, year=None, output, zip=False, user=None, **options):
        year = year or timezone.localdate().year
        if zip and not township:
            raise CommandError("--zip 只能与 --township 一起使用。")
        account = None
        if user:
            account = get_user_model().objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"没有用户“{user}”。")
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        if branch:
            org = find_organisation(branch, (OrgLevel.BRANCH,))
            counts = xlsx.render(exports.branch_book(org, year=year, user=account), path)
            rows = sum(counts.values())
        elif zip:
            org = find_organisation(township, TOWNSHIP_LEVELS)
            rows = services.write_zip(org, year=year, user=account, path=path)
        else:
            org = find_organisation(township, TOWNSHIP_LEVELS)
            rows = sum(xlsx.render(exports.summary_book(org, year=year, user=account), path).values())
        self.stdout.write(self.style.SUCCESS(f"已导出 {org.name} {year}年度台账：{path}（{rows} 行）"))
