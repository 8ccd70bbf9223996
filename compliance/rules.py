"""The rules catalogue of RULES.md and their evaluation on plain values. No Django imports.

Codes are the stable RULES.md codes. Frequencies here are the national or local defaults;
a 党委 may override them for its subtree with an effective-from date (the database side
picks the setting in force for each period and passes it to `evaluate`).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

from .periods import PeriodKind, State, last_weekday_of_month, obligation_periods, obligation_state


class Scope(StrEnum):
    BRANCH = "branch"
    GROUP = "group"
    MEMBER = "member"


@dataclass(frozen=True)
class Frequency:
    count: int
    period: PeriodKind

    @property
    def label(self):
        unit = {"month": "每月", "quarter": "每季度", "half_year": "每半年", "year": "每年"}[self.period]
        return f"{unit}至少{self.count}次"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    scope: Scope
    source: str
    frequency: Frequency | None = None  # None: member rules with their own logic
    meeting_types: tuple = ()  # records of these types meet the rule
    note: str = ""


MONTHLY = Frequency(1, PeriodKind.MONTH)
QUARTERLY = Frequency(1, PeriodKind.QUARTER)
YEARLY = Frequency(1, PeriodKind.YEAR)

CATALOGUE = {
    rule.code: rule
    for rule in (
        Rule("general_meeting", "支部党员大会", Scope.BRANCH, "支部条例 第十一条", QUARTERLY, ("general_meeting",)),
        Rule("committee_meeting", "支部委员会会议", Scope.BRANCH, "支部条例 第十二条、第二十条", MONTHLY,
             ("committee_meeting",), "正式党员7人以上的支部设支部委员会"),
        Rule("group_meeting", "党小组会", Scope.GROUP, "支部条例 第十三条", MONTHLY, ("group_meeting",)),
        Rule("merged_meeting", "支组合一", Scope.BRANCH, "街道细则", MONTHLY, ("general_meeting",),
             "不设党小组的支部，每月一次党员大会同时视为党小组会"),
        Rule("party_lecture", "党课", Scope.BRANCH, "地方细则（国家未规定支部党课频次）", QUARTERLY, ("party_lecture",)),
        Rule("secretary_lecture", "书记讲党课", Scope.BRANCH, "地方细则", YEARLY, ("party_lecture",),
             "主讲人为支部书记的党课"),
        Rule("theme_day", "主题党日", Scope.BRANCH, "支部条例；教育管理条例 第十六条", MONTHLY, ("theme_day",)),
        Rule("org_life_meeting", "组织生活会", Scope.BRANCH, "支部条例 第十七条；教育管理条例 第十七条", YEARLY,
             ("org_life_meeting",), "按所属年度计，常在次年初召开"),
        Rule("member_review", "民主评议党员", Scope.BRANCH, "教育管理条例 第十八条", YEARLY),
        Rule("talk_coverage", "谈心谈话", Scope.BRANCH, "支部条例 第十九条", YEARLY),
        Rule("committee_term", "支委会换届", Scope.BRANCH, "支部条例 第二十一条"),
        Rule("absence_ladder", "无故不参加组织生活", Scope.MEMBER, "党章 第九条；街道细则"),
        Rule("dues_arrears", "党费欠缴", Scope.MEMBER, "党章；党费规定"),
        Rule("thought_report", "思想汇报", Scope.MEMBER, "街道细则"),
        Rule("training_hours", "集中学习培训", Scope.MEMBER, "教育管理条例 第二十条",
             note="每名党员每年不少于32学时；年中入党或转入的按整月折算；书记、支委56学时须本地设置启用"),
        Rule("mobile_member", "流动党员", Scope.MEMBER, "教育管理条例；街道细则"),
        Rule("lost_contact", "失联党员", Scope.MEMBER, "教育管理条例 第二十四条"),
        Rule("political_birthday", "政治生日", Scope.MEMBER, "街道细则"),
    )
}  # fmt: skip

# Rules met by counting meetings of a type. 书记讲党课 also needs the lecturer to be the secretary,
# which counting alone cannot tell, so the engine counts those lectures on their own.
MEETING_RULES = tuple(
    code
    for code, rule in CATALOGUE.items()
    if rule.meeting_types and rule.frequency and code != "secretary_lecture"
)
# Every rule judged per branch or group and period, whatever counts towards it.
UNIT_RULES = (*MEETING_RULES, "secretary_lecture", "talk_coverage", "member_review")
# Rules a 党委 may set a frequency for (talk coverage is all-or-nothing: only on or off).
SETTABLE_RULES = (*MEETING_RULES, "secretary_lecture")


def lecturer_is(lecturer, name):
    """Whether the recorded 主讲人 names this person: "张三", "支部书记张三", "张三同志" all do."""
    name = "".join((name or "").split())
    return bool(name) and name in "".join((lecturer or "").split())


@dataclass(frozen=True)
class TalkGaps:
    """What a year of 谈心谈话 still lacks (支部条例 第十九条).

    required: every pair of committee members, and every other member; pairs: the committee pairs
    (a, b), a < b, who have not talked; members: the other members no committee member talked with.
    """

    required: int
    pairs: tuple
    members: tuple

    @property
    def missing(self):
        return len(self.pairs) + len(self.members)


def talk_gaps(committee, members, talks):
    """The TalkGaps of a year's talks. `talks` are (person, person) pairs in any order; ids are member
    ids. A member reached by any committee member counts, whoever began the talk."""
    committee, members = set(committee), set(members)
    spoken = {frozenset(pair) for pair in talks if pair[0] != pair[1]}
    ordered = sorted(committee)
    pairs = [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]
    others = members - committee
    reached = {p for pair in spoken if pair & committee for p in pair}
    return TalkGaps(
        required=len(pairs) + len(others),
        pairs=tuple(pair for pair in pairs if frozenset(pair) not in spoken),
        members=tuple(sorted(others - reached)),
    )


def talk_coverage(committee, members, talks):
    """(required, covered) for a year of 谈心谈话: the counts of `talk_gaps`, so that a flag's count and
    the list of who is missing cannot disagree."""
    gaps = talk_gaps(committee, members, talks)
    return gaps.required, gaps.required - gaps.missing


# 组织生活会 records (RULES.md), (field, 名称) by stage. "items" is the number of the meeting's 整改事项 not voided.
ORG_LIFE_STAGES = (
    (
        "会前",
        (
            ("opinions", "会前征求意见"),
            ("talks_summary", "会前谈心谈话"),
            ("self_examination", "对照检查材料"),
        ),
    ),
    ("会中", (("criticism", "批评与自我批评"),)),
    ("会后", (("items", "整改清单"), ("reported_on", "报告上级党委"))),
)
ORG_LIFE_RECORDS = tuple(record for _stage, records in ORG_LIFE_STAGES for record in records)


def missing_org_life_records(meeting):
    """The 名称 of the records a 组织生活会 lacks, in ORG_LIFE_RECORDS order (the org_life_records flag).

    meeting: a mapping of each ORG_LIFE_RECORDS field to its value; a blank text, no date or no 整改事项
    is missing."""
    return [label for field, label in ORG_LIFE_RECORDS if not meeting[field]]


def missing_org_life_records_by_stage(meeting):
    """[(stage, [名称 missing])] of `missing_org_life_records`, only the stages that lack something; under
    its stage a 名称 drops the stage's name (会前: 征求意见, not 会前征求意见)."""
    missing = set(missing_org_life_records(meeting))
    by_stage = [
        (stage, [label.removeprefix(stage) for _f, label in records if label in missing])
        for stage, records in ORG_LIFE_STAGES
    ]
    return [(stage, labels) for stage, labels in by_stage if labels]


@dataclass(frozen=True)
class Unit:
    """What the rules need to know about a branch or group, as plain values."""

    level: str  # "branch" or "group"
    founded_on: date
    dissolved_on: date | None = None
    merged_group: bool = False
    has_committee: bool = True
    has_term: bool = True  # a committee term is recorded (without one, has_committee is False too)


def not_applicable_reason(rule, unit):
    """Why the rule does not apply to the unit, or None when it does."""
    if rule.scope == Scope.GROUP and unit.level != "group":
        return "只适用于党小组"
    if rule.scope == Scope.BRANCH and unit.level != "branch":
        return "只适用于党支部"
    if rule.code == "committee_meeting" and not unit.has_committee:
        # Both read as "not needed"; the ≥7 正式党员 that make a committee required are flagged apart.
        if unit.has_term:
            return "只设书记，未设支部委员会（正式党员不足7人的支部可不设）"
        return "未登记支部委员会届次（正式党员7人以上的支部须设支部委员会）"
    if rule.code == "merged_meeting" and not unit.merged_group:
        return "未实行支组合一"
    return None


@dataclass(frozen=True)
class Obligation:
    rule: str
    period: object
    state: State
    required: int
    held: int
    reason: str = ""  # why not applicable


def evaluate(rule, unit, *, held_by_period, as_of, frequency=None, effective_from=None, until=None,
             window_start=None, ends_before=None, short_only=False):  # fmt: skip
    """The unit's obligations under the rule, one per accrued period, with their states.

    held_by_period: {period start: number of qualifying records held in that period}.
    frequency: the setting in force (defaults to the rule's); effective_from: when that setting
    took effect for the unit, if later than its founding; until: when a later setting replaces it
    (periods starting on or after it belong to the later setting); window_start: skip periods
    that ended before it; ends_before: skip periods that end on or after it; short_only: only the
    periods held short of the count (a refresh flags nothing else; in a county's rebuild most of the
    million periods are met, and building them costs more than judging them).
    """
    frequency = frequency or rule.frequency
    reason = not_applicable_reason(rule, unit)
    starts_on = max(unit.founded_on, effective_from) if effective_from else unit.founded_on
    periods = obligation_periods(frequency.period, starts_on=starts_on, as_of=as_of, ends_on=unit.dissolved_on,
                                 window_start=window_start, ends_before=ends_before)  # fmt: skip
    if until is not None:
        periods = [p for p in periods if p.start < until]
    if reason:
        return [] if short_only else [
            Obligation(rule.code, p, State.NOT_APPLICABLE, frequency.count, 0, reason) for p in periods
        ]  # fmt: skip
    required = frequency.count
    return [
        Obligation(
            rule.code, p, obligation_state(p, required=required, held=held, as_of=as_of), required, held
        )
        for p in periods
        for held in (held_by_period.get(p.start, 0),)
        if not (short_only and held >= required)
    ]


def switched_off(rule, unit, *, frequency, effective_from, until, as_of, window_start=None, ends_before=None):
    """The periods of a stretch in which a local setting turned the rule off: not applicable, and why
    (from the first full period after the setting's date, as a setting that changes the rule takes over)."""
    reason = not_applicable_reason(rule, unit) or f"本地规则自{effective_from:%Y-%m-%d}起不检查"
    periods = obligation_periods(frequency.period, starts_on=max(unit.founded_on, effective_from), as_of=as_of,
                                 ends_on=unit.dissolved_on, window_start=window_start, ends_before=ends_before)  # fmt: skip
    return [
        Obligation(rule.code, p, State.NOT_APPLICABLE, 0, 0, reason)
        for p in periods
        if until is None or p.start < until
    ]


def evaluate_coverage(
    rule,
    unit,
    *,
    coverage_by_year,
    as_of,
    effective_from=None,
    until=None,
    window_start=None,
    ends_before=None,
    short_only=False,
):
    """Yearly obligations whose required count is the unit's own: {year start: (required, covered)}.

    effective_from, until, window_start, ends_before and short_only work as in `evaluate`.
    """
    starts_on = max(unit.founded_on, effective_from) if effective_from else unit.founded_on
    periods = obligation_periods(PeriodKind.YEAR, starts_on=starts_on, as_of=as_of, ends_on=unit.dissolved_on,
                                 window_start=window_start, ends_before=ends_before)  # fmt: skip
    results = []
    for period in periods:
        if until is not None and period.start >= until:
            break
        required, covered = coverage_by_year.get(period.start, (0, 0))
        if short_only and covered >= required:
            continue
        state = obligation_state(period, required=required, held=covered, as_of=as_of)
        results.append(Obligation(rule.code, period, state, required, covered))
    return results


# ---------------------------------------------------------------- member rules


@dataclass(frozen=True)
class MemberMonth:
    """One month of a member's organisational life (党员大会, 党小组会, 党课, 主题党日)."""

    held: bool  # the branch or the member's group held at least one such meeting
    attended: bool  # the member attended at least one
    excused: bool = False  # on approved leave (请假) for every one they missed
    exempt: bool = False  # inside an approved exemption period


@dataclass(frozen=True)
class LadderStep:
    code: str
    label: str
    months: int


ABSENCE_LADDER = (
    LadderStep("lapsed", "连续6个月无故不参加组织生活：按自行脱党提请支部大会和党委研究（不自动处理）", 6),
    LadderStep("organisational", "连续4至5个月无故不参加组织生活：应予组织处理", 4),
    LadderStep("criticism", "连续2至3个月无故不参加组织生活：应批评教育、作出检查", 2),
)


def absence_run(months):
    """Consecutive months of unexcused absence, counted up to the latest month (RULES.md).

    A month with attendance resets the count; a month with meetings and only unexcused
    absence adds one; a month without meetings, on approved leave for all of them, or inside
    an exemption neither adds nor resets.
    """
    run = 0
    for month in months:
        if month.exempt or not month.held:
            continue
        if month.attended:
            run = 0
        elif not month.excused:
            run += 1
    return run


def ladder_step(run):
    return next((step for step in ABSENCE_LADDER if run >= step.months), None)


DUES_STEPS = (
    LadderStep("dues_lapsed", "连续6个月不交纳党费：按自行脱党提请研究（有正当理由的除外）", 6),
    LadderStep("dues_reminder", "连续3个月未交纳党费：提醒补交", 3),
)


def dues_step(unpaid_run):
    return next((step for step in DUES_STEPS if unpaid_run >= step.months), None)


# ---------------------------------------------------------------- 集中学习培训 (training hours)

TRAINING_HOURS = 32  # 教育管理条例 第二十条: 每名党员每年集中学习培训一般不少于32学时
# What many training plans ask of 支部书记 and 支委: a local setting, off by default.
COMMITTEE_TRAINING_HOURS = 56
# The setting code that turns the committee's hours on (a RuleSetting row; never a flag of its own).
TRAINING_COMMITTEE = "training_hours_committee"
TRAINING_SETTINGS = ("training_hours", TRAINING_COMMITTEE)


@dataclass(frozen=True)
class TrainingDue:
    """What a member owes for a year: hours (0 when not applicable), the months counted, and why not."""

    hours: int
    months: int
    reason: str = ""


def _merged(periods):
    """Approved periods (start, end or None) joined where they touch or overlap, in date order."""
    merged = []
    for start, end in sorted(periods, key=lambda p: p[0]):
        if merged and (merged[-1][1] is None or start <= merged[-1][1] + timedelta(days=1)):
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, None if last_end is None or end is None else max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _month_covered(first, last, periods):
    return any(start <= first and (end is None or end >= last) for start, end in periods)


def training_months(year, *, starts_on, exemptions=()):
    """The months of the year in which the member owes training.

    They start with the first whole month after the obligation began (the month itself when it
    began on the 1st), like every other obligation, and run to December; a month wholly inside
    an approved exemption (病休 / 产假 / 年老体弱, possibly several periods end to end) is left out.
    """
    if starts_on is None or starts_on > date(year, 12, 31):
        return []
    first_month = 1
    if starts_on.year == year:
        first_month = starts_on.month + (starts_on.day != 1)
    periods = _merged(exemptions)
    if not periods:  # most members: a refresh asks this of every member for every year judged
        return list(range(first_month, 13))
    months = []
    for month in range(first_month, 13):
        first = date(year, month, 1)
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        if not _month_covered(first, last, periods):
            months.append(month)
    return months


def training_due(year, *, starts_on, exemptions=(), hours=TRAINING_HOURS):
    """The 学时 a member owes for the year (教育管理条例 第二十条), pro rata to the months owed.

    starts_on: when the member came under the rule here — the later of becoming a 预备党员 and
    joining this instance's roster (a transfer in). Pro rata by whole months, rounded up: joined
    on 15 July, August to December are owed, 5/12 of 32 = 13.3, so 14. hours: what the setting
    in force asks of this member (None: the rule is off for them).
    """
    if hours is None:
        return TrainingDue(0, 0, "本地设置不检查集中学习培训")
    if starts_on is None or starts_on > date(year, 12, 31):
        return TrainingDue(0, 0, f"{year}年尚未入党")
    months = training_months(year, starts_on=starts_on, exemptions=exemptions)
    if not months:
        owed_from = training_months(year, starts_on=starts_on)
        if owed_from:
            return TrainingDue(0, 0, f"{year}年全年经批准免于参加组织生活")
        return TrainingDue(0, 0, f"{year}年入党或转入不满一个整月")
    return TrainingDue(-(-hours * len(months) // 12), len(months))


def training_hours_for(*, base, committee=None, on_committee=False):
    """The hours asked of a member: base for everyone (None: the rule is off), and for 书记 and 支委
    the committee setting's hours when a 党委 has turned it on (never fewer than everyone's)."""
    if base is None:
        return None
    if on_committee and committee:
        return max(base, committee)
    return base


def training_state(due, done, *, year, as_of):
    """MET once the hours are done; OVERDUE once the year is over without them; DUE_SOON in December
    (a month to arrange the missing hours); DUE before that; NOT_APPLICABLE when nothing is owed."""
    if due.hours == 0:
        return State.NOT_APPLICABLE
    if done >= due.hours:
        return State.MET
    if as_of > date(year, 12, 31):
        return State.OVERDUE
    if as_of.year == year and as_of.month == 12:
        return State.DUE_SOON
    return State.DUE


@lru_cache(maxsize=4096)  # a refresh writes the hours of thousands of members: a few hundred distinct values
def hours_text(hours):
    """学时 as a person writes them: 18, 18.5 (never 18.0)."""
    text = f"{hours:f}" if not isinstance(hours, int) else str(hours)
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------- local values

# What else a 党委 sets for its subtree besides the rules' frequencies: the 主题党日 fixed day, after how many
# working days a record counts as 补录, and the committees' term. A RuleSetting under one of these codes
# holds the value in `count`; each applies from its effective date (the latest in force wins, the nearest
# organisation's on the same date), as the frequencies do.
THEME_DAY_SETTING = "theme_day_fixed"
BACKFILL_SETTING = "backfill_days"
TERM_SETTING = "term_years"
VALUE_SETTINGS = (THEME_DAY_SETTING, BACKFILL_SETTING, TERM_SETTING)
VALUE_SETTING_NAMES = {
    THEME_DAY_SETTING: "主题党日固定日期",
    BACKFILL_SETTING: "补录认定（录入晚于召开的工作日数）",
    TERM_SETTING: "委员会任期（年）",
}
# A fixed-day value above LAST_WEEKDAY is the last Monday (101) … Sunday (107) of the month; else that day.
LAST_WEEKDAY = 100
WEEKDAY_NAMES = "一二三四五六日"
DEFAULT_THEME_DAY = LAST_WEEKDAY + 1 + 4  # the last Friday: the 街道 default
THEME_DAY_CHOICES = [
    (LAST_WEEKDAY + 1 + day, f"每月最后一个星期{name}") for day, name in enumerate(WEEKDAY_NAMES)
] + [(day, f"每月{day}日") for day in range(1, 29)]
DEFAULT_BACKFILL_DAYS = 3
BACKFILL_DAYS_RANGE = (1, 30)
TERM_YEARS_CHOICES = (3, 5)  # 支部条例 第二十一条: 三年或五年


def value_problem(code, value):
    """(field, message) when a local value cannot stand, else None (the page, the service and the admin site
    all check with this; the engine ignores such a value rather than fail a county's run on it)."""
    if code == THEME_DAY_SETTING and value not in dict(THEME_DAY_CHOICES):
        return "theme_day", "请选择主题党日的固定日期。"
    low, high = BACKFILL_DAYS_RANGE
    if code == BACKFILL_SETTING and not (value and low <= value <= high):
        return "count", f"补录认定的工作日数应在{low}到{high}之间。"
    if code == TERM_SETTING and value not in TERM_YEARS_CHOICES:
        return "count", "委员会任期应为3年或5年（支部条例 第二十一条）。"
    return None


def theme_day_in(year, month, value):
    """The fixed 主题党日 of a month under a fixed-day value."""
    if value > LAST_WEEKDAY:
        return last_weekday_of_month(year, month, value - LAST_WEEKDAY - 1)
    return date(year, month, value)  # 1 to 28: in every month


def theme_day_label(value):
    return dict(THEME_DAY_CHOICES).get(value, "")


def value_label(code, value):
    """A local value as the settings page says it."""
    if code == THEME_DAY_SETTING:
        return theme_day_label(value)
    return f"{value}个工作日" if code == BACKFILL_SETTING else f"{value}年"


def value_in_force(timeline, on, default):
    """timeline: [(effective_from, value)] in date order; the value in force on `on`, else the default."""
    value = default
    for effective_from, setting_value in timeline:
        if effective_from > on:
            break
        value = setting_value
    return value
