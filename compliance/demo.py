"""The demo township's local rules: 幸福里社区党委 fixes its 主题党日 on the 15th, as some 街道 do, so that a
newcomer sees a local value at work (the settings page, the meeting form's hint, the ledgers' 固定日期)."""

from datetime import date

from branches.models import Organisation

from .models import RuleSetting
from .rules import THEME_DAY_SETTING

COMMUNITY = "幸福里社区党委"
FIXED_ON_THE_15TH = 15


def seed(*, root, today):
    """Idempotent; before the meetings, which are planned on the fixed day. Returns how many it added."""
    community = Organisation.objects.get_descendants(root).filter(name=COMMUNITY).first()
    if (
        community is None
        or RuleSetting.objects.filter(organisation=community, rule=THEME_DAY_SETTING).exists()
    ):
        return 0
    RuleSetting.objects.create(organisation=community, rule=THEME_DAY_SETTING, count=FIXED_ON_THE_15TH,
                               effective_from=date(today.year - 1, 1, 1))  # fmt: skip
    return 1


def reset(*, root):
    """For `seed_demo --reset` only (development): the organisations go, and their settings with them."""
    RuleSetting.objects.filter(organisation__path__startswith=root.path).delete()
