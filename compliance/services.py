import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from branches.models import Organisation
from branches.services import branches_of

from . import engine
from .local import term_setting_refused
from .models import DigestSubscription, FlagState, Lease, RefreshRun, RuleSetting
from .periods import PeriodKind, period_containing
from .rules import (
    BACKFILL_SETTING,
    CATALOGUE,
    MEETING_RULES,
    TERM_SETTING,
    TRAINING_SETTINGS,
    VALUE_SETTINGS,
    value_problem,
)

logger = logging.getLogger(__name__)

MAX_MEETINGS_A_PERIOD = 31
MAX_TRAINING_HOURS_A_YEAR = 200

LEASE_NAME = "nightly_refresh"
LEASE_LENGTH = timedelta(hours=1)


# A branch's on-write refresh is debounced: the first write schedules it a moment later and holds
# this lease until the refresh starts, so a burst of writes (a meeting and its 40 attendance rows,
# a roster import) costs one refresh. A lost task only delays the next one by the lease's length.
DEBOUNCE_SECONDS = 1
PENDING_LENGTH = timedelta(minutes=5)


def take_lease(name, *, now=None, length=LEASE_LENGTH):
    """True if this caller now holds the lease: one conditional UPDATE, safe across processes."""
    now = now or timezone.now()
    Lease.objects.get_or_create(name=name)
    taken = Lease.objects.filter(Q(held_until__isnull=True) | Q(held_until__lt=now), name=name).update(
        held_until=now + length
    )
    return taken == 1


def pending_refresh(branch_id, since=None):
    """The lease of a branch's scheduled refresh; one of its own for a write dated in an earlier year."""
    return f"refresh:b{branch_id}" if since is None else f"refresh:b{branch_id}:{since.isoformat()}"


def release_lease(name):
    Lease.objects.filter(name=name).update(held_until=None)


def refresh_all_with_lease(*, as_of, time_only=False):
    """The county-wide run of beat (nightly: time_only; weekly: everything), one at a time, kept as a
    RefreshRun. The nightly run leaves alone what no day since the last finished run has moved. It takes
    its turn with the refreshes after a setting changed (`refresh_subtree`)."""
    if not take_lease(LEASE_NAME):
        return {"skipped": "另一次刷新正在进行"}
    try:
        judged_through = last_judged(as_of) if time_only else None
        with transaction.atomic():
            _take_subtree_lock(wait=True)
            result = engine.refresh(as_of=as_of, time_only=time_only, judged_through=judged_through)
        record_run(as_of=as_of, result=result, time_only=time_only)
        return result
    finally:
        release_lease(LEASE_NAME)


def last_judged(as_of):
    """The day the latest finished run judged, if the flags stand as of that day: None when none has
    run, when it judged a later day, or when it judged only some branches."""
    latest = RefreshRun.objects.order_by("-finished_at", "-pk").first()
    if latest is None or latest.kind == RefreshRun.Kind.PARTIAL or latest.as_of > as_of:
        return None
    return latest.as_of


def record_run(*, as_of, result, time_only=False, branch_ids=None, since=None):
    """Keep a finished run (see RefreshRun). A branch's refresh as of today is a write's, and not kept."""
    if branch_ids is not None and as_of == timezone.localdate():
        return
    if branch_ids is not None:
        kind = RefreshRun.Kind.PARTIAL
    else:
        kind = RefreshRun.Kind.NIGHTLY if time_only else RefreshRun.Kind.FULL
    RefreshRun.objects.create(
        kind=kind, as_of=as_of, since=since, raised=result["raised"], resolved=result["resolved"]
    )


def first_judged(today):
    """The first day of the earliest periods the county-wide runs have judged (a run for some branches
    only judged those): 1 January of last year before any has run."""
    first = RefreshRun.objects.exclude(kind=RefreshRun.Kind.PARTIAL).aggregate(
        as_of=Min("as_of"), since=Min("since")
    )
    return min(engine.default_since(first["as_of"] or today), first["since"] or date.max)


def rejudge_since(dates, *, today):
    """Where a refresh after a change dated `dates` starts, when it must reach back further than usual;
    else None (a refresh judges the periods from 1 January of last year on, and leaves older ones standing).

    A meeting recorded for, or a local rule effective from, a day before last year changes the verdict on
    that year's periods: they are judged again, from 1 January of that year (a 组织生活会 counts for its
    所属年度: the meeting services name that year's last day too). Not before the earliest period any
    county-wide run judged: older periods were never judged, and judging them now would flag every month
    of years nobody recorded in this system. Days of this year and last year cost no query."""
    usual = engine.default_since(today)
    earliest = min((day for day in dates if day is not None and day < usual), default=None)
    if earliest is None:
        return None
    since = max(date(earliest.year, 1, 1), first_judged(today))
    return since if since < usual else None


# No local rule reaches back before this day: the system holds no records of years before it, and a date
# such as 1900-01-01 is a slip of the keyboard that would judge every period since again.
EARLIEST_EFFECTIVE_FROM = date(2000, 1, 1)


def latest_effective_from(today):
    """The last day a local rule may take effect from: the end of next year. A date such as 9999-12-31 is a
    slip of the keyboard too, and a rule set for years ahead is better set when it is decided."""
    return date(today.year + 1, 12, 31)


def effective_from_problem(organisation, effective_from):
    """Why a local rule of the organisation cannot take effect from this date, or None: not before the
    organisation was founded (it had no periods to judge), nor before EARLIEST_EFFECTIVE_FROM, nor after
    the end of next year (`latest_effective_from`)."""
    if effective_from < EARLIEST_EFFECTIVE_FROM:
        return f"生效日期不能早于{EARLIEST_EFFECTIVE_FROM:%Y-%m-%d}。"
    latest = latest_effective_from(timezone.localdate())
    if effective_from > latest:
        return f"生效日期不能晚于{latest:%Y-%m-%d}（明年年底）：更晚才施行的规定，请到时再设置。"
    founded_on = getattr(organisation, "founded_on", None)
    if founded_on and effective_from < founded_on:
        return f"生效日期不能早于{organisation.name}的成立日期（{founded_on:%Y-%m-%d}）。"
    return None


def current_period_start(rule, period_kind, *, today):
    """The first day of the period of the rule (with the period chosen for it) that contains today: a local
    rule effective from an earlier day judges again periods that have already ended. The training hours
    are a year's; the local values (主题党日固定日期, 补录认定, 委员会任期) apply by the month or the day, so
    this month's first day."""
    if period_kind:
        kind = PeriodKind(period_kind)
    elif rule in TRAINING_SETTINGS:
        kind = PeriodKind.YEAR
    elif rule in CATALOGUE and CATALOGUE[rule].frequency is not None:
        kind = CATALOGUE[rule].frequency.period
    else:
        kind = PeriodKind.MONTH
    return period_containing(kind, today).start


def rejudge_timelines(organisations, rules, *, today):
    """What a new setting of each (organisation, rule) could make the engine judge again: {(organisation pk,
    rule): [timeline, ...]}, each timeline [(effective_from, current-period start or None)] in date order, the
    first from None (the default rule). Only pairs that some setting reaches are given (`rejudge_start`
    takes the default rule for the others).

    A setting effective from D takes over, in the organisation's subtree, from whatever was in force on D
    (the engine lets the latest date win, whichever organisation it is on; on one date the nearest). One
    timeline for the organisation itself and one for each organisation below it with settings of its own: the
    units beneath judge by one of them. A setting switched off (不检查) left no verdicts to judge again: None.
    Withdrawn settings and those not yet in force are left out. One query."""
    organisations = list(organisations)
    step = Organisation.steplen
    paths = {org.path for org in organisations}
    above = {path[:end] for path in paths for end in range(step, len(path) + 1, step)}
    tops = []
    for path in sorted(paths):  # a subtree's paths follow its root's
        if not tops or not path.startswith(tops[-1]):
            tops.append(path)
    within = Q(organisation__path__in=above)
    for path in tops:
        within |= Q(organisation__path__startswith=path)
    rows = list(
        RuleSetting.objects.filter(within, rule__in=rules, voided_at__isnull=True, effective_from__lte=today)
        .values("rule", "enabled", "period_kind", "effective_from", "organisation__path")
        .order_by("effective_from")
    )
    result = {}
    for rule in {row["rule"] for row in rows}:
        settings = [row for row in rows if row["rule"] == rule]
        default = current_period_start(rule, "", today=today)
        for org in organisations:
            reaching = [row for row in settings if _related(row["organisation__path"], org.path)]
            if not reaching:
                continue
            below = sorted({
                row["organisation__path"] for row in reaching
                if row["organisation__path"].startswith(org.path) and row["organisation__path"] != org.path
            })  # fmt: skip
            result[(org.pk, rule)] = [
                _timeline(reaching, path, rule, default, today) for path in [org.path, *below]
            ]
    return result


def _related(path, other):
    return path.startswith(other) or other.startswith(path)


def _timeline(rows, path, rule, default, today):
    """[(effective_from, start)] of a unit at `path`, as the engine reads its settings (`engine._settings_for`)."""
    chosen = {}
    for row in rows:
        setting_path = row["organisation__path"]
        if path.startswith(setting_path):
            current = chosen.get(row["effective_from"])
            if current is None or len(setting_path) > len(current["organisation__path"]):
                chosen[row["effective_from"]] = row
    timeline = [(None, default)]
    for day in sorted(chosen):
        row = chosen[day]
        start = current_period_start(rule, row["period_kind"], today=today) if row["enabled"] else None
        timeline.append((day, start))
    return timeline


def rejudge_start(day, *, rule, period_kind, timelines, today):
    """The current period's first day that a setting effective from `day` is held to: a day before it judges
    again periods that have ended, and the settings page asks the office to confirm it. The later of its own
    period's (a day before it judges ended periods by the new rule) and that of each setting it takes over
    from on `day` in the subtree (a month judged monthly until now has ended, though a quarter from the
    same day has not). `timelines` as `rejudge_timelines` gives them; None for the default rule."""
    start = current_period_start(rule, period_kind, today=today)
    for timeline in timelines or [[(None, current_period_start(rule, "", today=today))]]:
        in_force = [begins for since, begins in timeline if since is None or since <= day][-1]
        start = max(start, in_force or start)
    return start


@transaction.atomic
def add_setting(*, organisation, rule, enabled, effective_from, count=None, period_kind="", user=None):
    """A local rule for the organisation's subtree from a date on; kept with its history, never edited away.
    (The settings page also asks the office to confirm a date before the current period:
    `rejudge_start`.) One saved by mistake is withdrawn before it takes effect (`withdraw_setting`)."""
    check_setting(organisation=organisation, rule=rule, enabled=enabled, effective_from=effective_from,
                  count=count, period_kind=period_kind)  # fmt: skip
    if RuleSetting.objects.filter(
        organisation=organisation, rule=rule, effective_from=effective_from, voided_at__isnull=True
    ).exists():
        raise ValidationError({"effective_from": _same_day_message(effective_from)})
    setting = RuleSetting.objects.create(
        organisation=organisation, rule=rule, enabled=enabled, count=count if enabled else None,
        period_kind=period_kind if enabled else "", effective_from=effective_from, created_by=user,
    )  # fmt: skip
    setting.judging = refresh_on_commit(branches_of(organisation), dates=[effective_from])
    return setting


def _same_day_message(effective_from):
    if effective_from > timezone.localdate():
        return "该组织同一规则在这一天已有设置：如果那条设置有误，请先在“已有设置”中将其撤销，再重新设置。"
    return "该组织同一规则在这一天已有设置，且已经生效，不能撤销：如需改变，请选择以后的生效日期另行设置。"


def withdrawal_refused(setting, *, today):
    """Why the setting cannot be withdrawn, or None. Only one not yet in force: from its first day the
    branches' reminders and records were judged by it, and a change from then on is a new setting."""
    if setting.voided_at:
        return "该设置已撤销。"
    if setting.effective_from <= today:
        return f"该设置已于{setting.effective_from:%Y-%m-%d}生效，不能撤销：如需改变，请新增一条自以后某日起的设置。"
    return None


@transaction.atomic
def withdraw_setting(*, setting, reason, user):
    """Withdraw (撤销) a setting that has not yet taken effect: kept with who withdrew it and why, and from
    then on read by nobody; its day is free for the right setting. It judged nothing yet, so no reminder
    changes (the dashboards' counts are renewed by the save, `stamps`)."""
    setting = RuleSetting.objects.select_for_update().get(pk=setting.pk)
    refused = withdrawal_refused(setting, today=timezone.localdate())
    if refused:
        raise ValidationError(refused)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "请填写撤销原因。"})
    setting.voided_at = timezone.now()
    setting.void_reason = reason
    setting.voided_by = user
    setting.save()
    return setting


def check_setting(*, organisation, rule, enabled, effective_from, count=None, period_kind=""):
    """Raise ValidationError (on the field) if the local rule cannot be set: one limit for each kind of rule,
    said the same way wherever it is set (the settings page asks this before its own confirmation)."""
    if rule not in (*MEETING_RULES, *TRAINING_SETTINGS, *VALUE_SETTINGS):
        raise ValidationError({"rule": "该规则暂不支持本地设置。"})
    problem = effective_from_problem(organisation, effective_from)
    if problem:
        raise ValidationError({"effective_from": problem})
    if rule in VALUE_SETTINGS:
        _check_value(rule, enabled=enabled, count=count, period_kind=period_kind)
        refused = term_setting_refused(organisation) if rule == TERM_SETTING else None
        if refused:
            raise ValidationError({"organisation": refused})
        if rule == BACKFILL_SETTING and effective_from < timezone.localdate():
            # Records already entered were judged 补录 or not on their entry day, and stay so.
            raise ValidationError(
                {"effective_from": "补录认定只能自今天或以后生效：已录入的记录按录入时的规定判断。"}
            )
    elif rule in TRAINING_SETTINGS:
        if period_kind:
            raise ValidationError({"period_kind": "集中学习培训按年度计算学时，不能设置周期。"})
        if enabled and count is not None and not 1 <= count <= MAX_TRAINING_HOURS_A_YEAR:
            raise ValidationError({"count": f"学时应在1到{MAX_TRAINING_HOURS_A_YEAR}之间。"})
    elif enabled and count is not None and not 1 <= count <= MAX_MEETINGS_A_PERIOD:
        raise ValidationError({"count": f"次数应在1到{MAX_MEETINGS_A_PERIOD}之间。"})


def _check_value(rule, *, enabled, count, period_kind):
    """A local value (主题党日固定日期, 补录认定, 委员会任期) is a value, never switched off or given a period."""
    if not enabled:
        raise ValidationError({"enabled": "该设置不能选择“不检查”：请设定取值。"})
    if period_kind:
        raise ValidationError({"period_kind": "该设置没有周期，请选择“默认周期”。"})
    problem = value_problem(rule, count)
    if problem:
        field, message = problem
        raise ValidationError({field: message})


# A township's subtree is judged again within the request (a second or two at most); a county's takes
# longer than anyone should wait on a page (8 s at 1,700 branches, 23 s reaching back four years), and
# goes to the worker.
IN_REQUEST_BRANCHES = 300


@dataclass
class Judging:
    """Where a subtree is judged again after a change: later, in the worker; settled once it has committed."""

    later: bool


def refresh_on_commit(branch_ids, *, dates=()):
    """After commit, one refresh of these branches: a local setting applies to a whole subtree, for which
    one set-based refresh costs less than a task each. Here and now for a few hundred branches, unless
    another subtree is being judged; else in the worker, or here if the broker is down. Returns a Judging.
    dates: the days the change takes effect from; periods of earlier years are judged again too
    (`rejudge_since`)."""
    branch_ids = list(branch_ids)
    judging = Judging(later=len(branch_ids) > IN_REQUEST_BRANCHES)

    def run():
        if judging.later:
            _refresh_later(branch_ids, dates)
        else:
            judging.later = _refresh_now(branch_ids, dates, wait=False)

    if branch_ids:
        transaction.on_commit(run)
    return judging


def _refresh_now(branch_ids, dates, *, wait):
    """Judge the branches here; True when another subtree's refresh is running and, not to wait for it
    (wait=False: a request), this one was left to the worker instead."""
    today = timezone.localdate()
    if refresh_subtree(branch_ids, as_of=today, since=rejudge_since(dates, today=today), wait=wait) is None:
        _refresh_later(branch_ids, dates)
        return True
    return False


# One number for every refresh of a subtree after a local setting changed, and for the county-wide runs
# (any 64-bit value no other advisory lock of the project uses).
SUBTREE_LOCK = 0x7A68_6962_7531  # "zhibu1"


@transaction.atomic
def refresh_subtree(branch_ids, *, as_of, since=None, wait=True):
    """Judge the branches again after a local setting changed, one such refresh at a time; None when
    another holds the turn and wait is False (a request, which then leaves it to the worker).

    Two settings saved moments apart (a county's and a township's) refresh overlapping subtrees; run
    side by side, the one that started first could read the settings before the other's, yet commit
    last, and its flags would stand until the weekly run. The lock lasts until this transaction ends,
    so the later refresh reads what the earlier one wrote. (SQLite, for development only, goes without.)"""
    if not _take_subtree_lock(wait=wait):
        return None
    return engine.refresh(as_of=as_of, branch_ids=branch_ids, since=since)


def _take_subtree_lock(*, wait):
    """Take the subtree refreshes' turn until the transaction ends: wait for it, or return False if it is taken."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SUBTREE_LOCK])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SUBTREE_LOCK])
        return cursor.fetchone()[0]


def _refresh_later(branch_ids, dates):
    from .tasks import refresh_branches

    since = rejudge_since(dates, today=timezone.localdate())
    try:
        refresh_branches.apply_async((branch_ids, since.isoformat() if since else None))
    except Exception:  # the broker is down: the setting is saved; judge here rather than not at all
        logger.warning("消息队列不可用，改为在本进程内按新规则刷新 %s 个支部的提醒", len(branch_ids))
        _refresh_now(branch_ids, dates, wait=True)


DIGEST_ITEMS = 30


def set_digest(*, user, enabled):
    subscription, _created = DigestSubscription.objects.get_or_create(user=user)
    if subscription.enabled != enabled:
        subscription.enabled = enabled
        subscription.save()
    return subscription


def send_digests(*, today):
    """Email each subscriber (with an address) what is overdue or due soon in their scope, once a day.

    Nothing is sent to someone with nothing open, and a rerun the same day sends nothing twice.
    Returns the number of emails sent.
    """
    from .selectors import by_priority, open_flags

    sent = 0
    subscriptions = (
        DigestSubscription.objects.filter(enabled=True, user__is_active=True)
        .exclude(user__email="")
        .exclude(last_sent_on=today)
        .select_related("user")
    )
    for subscription in subscriptions:
        user = subscription.user
        flags = by_priority(open_flags(user).exclude(state=FlagState.WARNING).select_related("branch"))
        items = list(flags[:DIGEST_ITEMS])
        if items:
            total = flags.count()
            send_mail(
                subject=f"支部组织生活管理：{today:%Y-%m-%d} 有{total}项待办提醒",
                message=_digest_text(user, items, total, today),
                from_email=None,
                recipient_list=[user.email],
            )
            sent += 1
        DigestSubscription.objects.filter(pk=subscription.pk).update(last_sent_on=today)
    return sent


def _digest_text(user, items, total, today):
    lines = [f"{user.get_full_name() or user.username}，您好：", "",
             f"截至{today:%Y年%m月%d日}，您负责的范围内有{total}项逾期或即将到期的事项：", ""]  # fmt: skip
    # By branch, as the web list names each item's branch (a group's flag names the group's branch); the
    # branches in the order of their most urgent item, each branch's items in the list's order.
    by_branch = {}
    for flag in items:
        by_branch.setdefault(flag.branch_id, (flag.branch, []))[1].append(flag)
    for branch, flags in by_branch.values():
        lines.append(f"{branch.name}：")
        lines += [f"  【{flag.get_state_display()}】{flag.message}" for flag in flags]
        lines.append("")
    if total > len(items):
        lines += [f"……另有{total - len(items)}项，请登录系统查看“待办提醒”。", ""]
    lines.append("如不需要此邮件，可在“待办提醒”页面取消订阅。")
    return "\n".join(lines)
