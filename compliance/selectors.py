"""Reads of flags, scoped through branches.access."""

from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from branches.access import Action, acts_anywhere, can, group_scope_q, scoped

from .models import Flag, FlagState, RuleSetting

# Overdue first, then what is due soon, then record-quality warnings (see by_priority).
PRIORITY = Case(
    When(state=FlagState.OVERDUE, then=Value(0)),
    When(state=FlagState.DUE_SOON, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


# Member flags that put a member on the watch-list (关注党员); reminders such as 政治生日 do not.
WATCH_RULES = (
    "absence_ladder",
    "dues_arrears",
    "mobile_member",
    "thought_report",
    "pipeline",
    "lost_contact",
)


def by_priority(queryset):
    """Most urgent first: overdue, then due soon, then warnings; within each, by the date the thing was due
    (a period's end, a deadline), earliest first: the longest overdue on top, then what falls due next.
    Flags with no date (党费欠缴, 失联, 外出 …) follow the dated ones of their state; the databases disagree
    on where NULLs sort, so it is said. One order for every list of flags, the page's and the email's."""
    return queryset.annotate(priority=PRIORITY).order_by(
        "priority", F("period_end").asc(nulls_last=True), "branch__path", "pk"
    )


def scoped_flags(queryset, user):
    """The flags of the user's branches and groups. A 党小组组长 sees those of the group's members too (a
    member's flag names only the branch): the ones their branch holds, not another's (a 民主评议 follow-up
    stays with the campaign's branch; a moved member's old flags stay with the old one)."""
    in_scope = scoped(queryset, user, Action.VIEW, via=("branch", "group"))
    members = group_scope_q(user, "member__group")
    if members is None:
        return in_scope
    return in_scope | queryset.filter(members, branch_id=F("member__branch_id"))


def open_flags(user):
    return scoped_flags(Flag.objects.filter(resolved_on__isnull=True), user)


# What a member reading their own page can act on; the rest (失联, 处置 of absences, 外出, 发展 deadlines)
# are the branch's instructions about them.
OWN_FLAG_RULES = ("dues_arrears", "thought_report", "political_birthday", "training_hours")


def member_flags(user, member):
    """A member's open flags on their page: all of them for those who see the member through the branch
    or group, the ones the member acts on for the member themself."""
    flags = Flag.objects.filter(member=member, resolved_on__isnull=True).order_by("rule")
    if not any(org is not None and can(user, org, Action.VIEW) for org in (member.branch, member.group)):
        flags = flags.filter(rule__in=OWN_FLAG_RULES)
    return flags


# What is due: overdue or due soon (the nav badge's count); the warnings (关注) are listed, not counted.
DUE = "due"
DUE_STATES = (FlagState.OVERDUE, FlagState.DUE_SOON)


def has_work_list(user):
    """Whether the user has a scope of flags to act on (the 待办 list and its daily email): a role on some
    organisation. A login that is only a 党员's reads its own record, reminders included, on its page."""
    return acts_anywhere(user, Action.VIEW)


def due_flags(user):
    return open_flags(user).filter(state__in=DUE_STATES)


def flag_list(user, *, branch=None, rule=None, state=None, include_resolved=False, within=None, watch=False):
    """within: an organisation whose subtree the list keeps to; watch: only the watch-list's member flags."""
    qs = scoped_flags(Flag.objects.all(), user)
    if not include_resolved:
        qs = qs.filter(resolved_on__isnull=True)
    if branch:
        qs = qs.filter(branch=branch)
    if within:
        qs = qs.filter(branch__path__startswith=within.path)
    if watch:
        qs = qs.filter(rule__in=WATCH_RULES, member__isnull=False)
    if rule:
        qs = qs.filter(rule=rule)
    if state == DUE:
        qs = qs.filter(state__in=DUE_STATES)
    elif state:
        qs = qs.filter(state=state)
    # The group too: with_actions reads its path.
    return by_priority(qs.select_related("branch", "group", "member", "meeting"))


def with_actions(flags, user):
    """A page of flags, each told what its reader may open from it, decided by branches.access on the roles
    read once (no query a row): .branch_open, whether the branch's page would open (a 党小组长's scope is
    their group, not its branch); .may_record, whether the meeting form would take the missing meeting —
    the group's for a group's flag, else the branch's, as the form itself decides (meetings.views)."""
    flags = list(flags)
    for flag in flags:
        flag.branch_open = can(user, flag.branch, Action.VIEW)
        flag.may_record = flag.record_type is not None and can(user, flag.group or flag.branch, Action.RECORD)
    return flags


CURRENT, PENDING, REPLACED, WITHDRAWN = "现行", "待生效", "已被取代", "已撤销"


def with_standing(settings, today):
    """(setting, 现行 / 待生效 / 已被取代 / 已撤销) of an organisation's settings of each rule, newest date first
    as the settings page orders them: the latest in force today is current, the earlier ones replaced by it;
    a withdrawn one stands for nothing. (A setting of an organisation above or below still applies where it
    is the nearest.)"""
    current_found = set()
    standings = []
    for setting in settings:
        key = (setting.organisation_id, setting.rule)
        if setting.voided_at:
            standing = WITHDRAWN
        elif setting.effective_from > today:
            standing = PENDING
        elif key in current_found:
            standing = REPLACED
        else:
            current_found.add(key)
            standing = CURRENT
        standings.append((setting, standing))
    return standings


def settings_of(user):
    """The local settings the user manages, as the settings page lists them: by organisation and rule, the
    newest date first, each with its standing (`with_standing`) and when and by whom it was saved
    (.saved_at, .saved_by, from its history: one added through the admin site has no 设置人 of its own)."""
    settings = list(
        scoped(RuleSetting.objects.all(), user, Action.MANAGE, via=("organisation",))
        .select_related("organisation", "created_by", "voided_by")
        .order_by("organisation__path", "rule", "-effective_from", "-pk")
    )
    added = {
        row.id: row
        for row in RuleSetting.history.filter(id__in=[s.pk for s in settings], history_type="+")
        .select_related("history_user")
        .order_by("history_date")
    }
    for setting in settings:
        row = added.get(setting.pk)
        setting.saved_at = row.history_date if row else None
        setting.saved_by = setting.created_by or (row.history_user if row else None)
    return with_standing(settings, timezone.localdate())
