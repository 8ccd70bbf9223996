"""The local values a 党委 sets for its subtree (`rules.VALUE_SETTINGS`), for the writes and pages that need
them: the 主题党日 fixed day, the 补录 threshold and the committees' term; and whether a local setting has
switched a rule off for an organisation on a day (`switched_off_since`), for the pages that announce it.

A write reads them for its one organisation in one query, kept on the organisation object (loaded anew by
each request), so that a ledger of a year's meetings asks once; the engine, which judges many branches,
takes them from the settings it reads anyway (`value_timeline`)."""

from branches.models import Organisation, OrgKind, OrgLevel, default_term_years

from .models import RuleSetting
from .rules import (
    BACKFILL_SETTING,
    DEFAULT_BACKFILL_DAYS,
    DEFAULT_THEME_DAY,
    TERM_SETTING,
    THEME_DAY_SETTING,
    VALUE_SETTINGS,
    theme_day_in,
    value_in_force,
    value_problem,
)

FIVE_YEARS = 5


def value_timeline(settings, path, code):
    """[(effective_from, value)] of the settings under `code` along the organisation's ancestry, in date
    order; on one date the nearest organisation's (as for the rules' frequencies)."""
    chosen = {}
    for setting in settings:
        if (
            setting.rule == code
            and setting.enabled
            and not value_problem(code, setting.count)  # one the admin site let through: the default stands
            and path.startswith(setting.organisation.path)
        ):
            current = chosen.get(setting.effective_from)
            if current is None or len(setting.organisation.path) > len(current.organisation.path):
                chosen[setting.effective_from] = setting
    return [(day, chosen[day].count) for day in sorted(chosen)]


def _settings_above(organisation):
    cached = getattr(organisation, "_value_settings", None)
    if cached is None:
        preload_value_settings([organisation])
        cached = organisation._value_settings
    return cached


def _ancestor_paths(organisation):
    step = Organisation.steplen
    return [organisation.path[:end] for end in range(step, len(organisation.path) + 1, step)]


def preload_value_settings(organisations):
    """Read what _settings_above reads for many organisations in one query (a county's ledgers)."""
    paths = {path for org in organisations for path in _ancestor_paths(org)}
    found = list(
        RuleSetting.objects.filter(
            rule__in=VALUE_SETTINGS, organisation__path__in=paths, voided_at__isnull=True
        ).select_related("organisation")
    )
    for org in organisations:
        above = set(_ancestor_paths(org))
        org._value_settings = [s for s in found if s.organisation.path in above]


def fixed_theme_day(branch, day):
    """The branch's fixed 主题党日 in the month of `day` (the 街道 default without a branch): the setting in
    force on the month's first day (one effective from the 15th fixes the days of the months after)."""
    value = DEFAULT_THEME_DAY
    if branch is not None:
        timeline = value_timeline(_settings_above(branch), branch.path, THEME_DAY_SETTING)
        value = value_in_force(timeline, day.replace(day=1), DEFAULT_THEME_DAY)
    return theme_day_in(day.year, day.month, value)


def backfill_days(branch, entered_on):
    """After how many working days a record entered on `entered_on` counts as 补录."""
    timeline = value_timeline(_settings_above(branch), branch.path, BACKFILL_SETTING)
    return value_in_force(timeline, entered_on, DEFAULT_BACKFILL_DAYS)


def term_years(organisation, elected_on):
    """The term of a committee elected on `elected_on`. 村、社区 organisations and 党委 serve 5 years whatever
    the setting (支部条例 第二十一条); for the others, 3 or 5 as the local setting then says, else 3."""
    default = default_term_years(organisation)
    if default == FIVE_YEARS:
        return default
    timeline = value_timeline(_settings_above(organisation), organisation.path, TERM_SETTING)
    return value_in_force(timeline, elected_on, default)


def term_setting_refused(organisation):
    """Why a committee-term setting cannot be made on this organisation, or None. A 党委's reaches the 总支
    and 支部 beneath it other than 村、社区; one on a 村、社区 organisation (a 村、社区党委 included, whose
    branches are 村、社区 too) or on another that serves 5 years would be ignored."""
    village = organisation.kind in (OrgKind.VILLAGE, OrgKind.COMMUNITY)
    if village or (
        organisation.level != OrgLevel.PARTY_COMMITTEE and default_term_years(organisation) == FIVE_YEARS
    ):
        return "村、社区党组织每届任期5年（支部条例第二十一条），不能另行设置任期。"
    return None


def switched_off_since(organisation, code, *, on):
    """The date from which a local setting stops checking the rule for the organisation, if the setting in
    force on `on` is a “不检查” one; else None. One query. As the engine reads them (`engine._settings_for`):
    along the organisation's ancestry, the nearest organisation's setting on a date, the latest date on or
    before `on` in force."""
    chosen = {}
    for setting in RuleSetting.objects.filter(
        rule=code,
        organisation__path__in=_ancestor_paths(organisation),
        effective_from__lte=on,
        voided_at__isnull=True,
    ).select_related("organisation"):
        current = chosen.get(setting.effective_from)
        if current is None or len(setting.organisation.path) > len(current.organisation.path):
            chosen[setting.effective_from] = setting
    if not chosen:
        return None
    latest = chosen[max(chosen)]
    return None if latest.enabled else latest.effective_from
