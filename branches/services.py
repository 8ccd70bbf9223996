"""Writes to the organisation tree and committees. Keyword-only, one transaction each."""

import secrets

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from compliance.local import term_years  # the term a 党委 sets for its subtree (本地规则)
from meetings.models import Meeting
from meetings.signals import announce_on_commit
from members.models import PARTY_MEMBER_CATEGORIES, Member

from .access import peer_role
from .models import (
    ALLOWED_PARENT_LEVELS,
    POSITION_ORDER,
    AccountEvent,
    CommitteePosition,
    CommitteeTerm,
    Organisation,
    OrgLevel,
    Position,
    Role,
    RoleAssignment,
)
from .selectors import label_of


def refresh_organisations_on_commit(*organisations):
    """After commit, the compliance engine judges again the branches these organisations are, lie in or
    hold (debounced per branch), as after a meeting: a committee elected, a branch founded, moved or
    dissolved shows on the work list at once, not at the next night that judges its rules."""
    announce_on_commit(Organisation, branches_of(*organisations))


def branches_of(*organisations):
    """The ids of the branches the organisations are (a branch), lie in (a group) or hold (a 党委)."""
    branch_ids = []
    for organisation in organisations:
        if organisation.level == OrgLevel.BRANCH:
            branch_ids.append(organisation.pk)
        elif organisation.level == OrgLevel.GROUP:
            parent = Organisation.objects.get_parent(organisation)
            branch_ids += [parent.pk] if parent else []
        else:
            below = Organisation.objects.get_descendants(organisation).filter(level=OrgLevel.BRANCH)
            branch_ids += below.values_list("pk", flat=True)
    return list(dict.fromkeys(branch_ids))


def check_parent(*, level, parent):
    allowed = ALLOWED_PARENT_LEVELS[OrgLevel(level)]
    parent_level = OrgLevel(parent.level) if parent else None
    if parent_level not in allowed:
        if parent is None:
            raise ValidationError(f"{OrgLevel(level).label}必须设在上级党组织之下。")
        raise ValidationError(f"{parent.get_level_display()}下不能设立{OrgLevel(level).label}。")
    if parent is not None and not parent.is_active:
        raise ValidationError(f"上级党组织“{parent.name}”已撤销，不能在其下设立或移入党组织。")
    if level == OrgLevel.GROUP and parent.merged_group:  # RULES.md: 支组合一 is a branch with no groups
        raise ValidationError(
            f"“{parent.name}”为支组合一的党支部，不设党小组；如需设立党小组，请先在该支部的编辑页取消“支组合一”。"
        )


def check_name_free(*, name, parent, exclude_pk=None):
    siblings = (
        Organisation.objects.get_children(parent) if parent else Organisation.objects.get_root_nodes()
    ).filter(name=name, dissolved_on__isnull=True)
    if exclude_pk:
        siblings = siblings.exclude(pk=exclude_pk)
    if siblings.exists():
        raise ValidationError({"name": f"同一上级下已有名为“{name}”的党组织。"})


def check_founded_under(*, founded_on, parent):
    """An organisation is founded on or after its parent, which sets it up: a 党小组 before its 党支部
    would owe 党小组会 for months whose meetings the branch cannot record."""
    if parent is not None and founded_on < parent.founded_on:
        raise ValidationError(
            {"founded_on": f"成立日期不能早于上级党组织的成立日期（{parent.founded_on:%Y-%m-%d}）。"}
        )


def _check_founding_kept_in_order(organisation, founded_on):
    """A new 成立日期 of an existing organisation keeps it within its parent's life and its children
    within its own. A 党小组 is never older than its 党支部; above them only an order the change would
    break is refused: a branch moved under a younger 党委 (as a 撤并 does) keeps its own older date and
    may still have it corrected."""
    old = Organisation.objects.filter(pk=organisation.pk).values_list("founded_on", flat=True).get()
    if founded_on == old:
        return
    parent = Organisation.objects.get_parent(organisation)
    was_in_order = parent is not None and (organisation.level == OrgLevel.GROUP or parent.founded_on <= old)
    if was_in_order:
        check_founded_under(founded_on=founded_on, parent=parent)
    younger = (
        Organisation.objects.get_children(organisation)
        .filter(founded_on__lt=founded_on)
        .filter(Q(level=OrgLevel.GROUP) | Q(founded_on__gte=old))
        .order_by("founded_on", "path")
        .first()
    )
    if younger is not None:
        raise ValidationError(
            {
                "founded_on": f"成立日期不能晚于下级党组织“{younger.name}”的成立日期"
                f"（{younger.founded_on:%Y-%m-%d}）。"
            }
        )


@transaction.atomic
def create_organisation(*, parent, name, level, kind, founded_on, merged_group=False):
    check_parent(level=level, parent=parent)
    check_name_free(name=name, parent=parent)
    organisation = Organisation(
        name=name, level=level, kind=kind, founded_on=founded_on, merged_group=merged_group
    )
    organisation.full_clean(exclude=["path", "depth", "numchild"])
    check_founded_under(founded_on=founded_on, parent=parent)
    if parent is None:
        return Organisation.objects.add_root(instance=organisation)
    organisation._change_reason = f"在“{parent.name}”下设立"
    created = Organisation.objects.add_child(parent, instance=organisation)
    refresh_organisations_on_commit(created)
    return created


@transaction.atomic
def update_organisation(*, organisation, name, kind, founded_on, merged_group):
    check_name_free(
        name=name, parent=Organisation.objects.get_parent(organisation), exclude_pk=organisation.pk
    )
    _check_founded_before_records(organisation, founded_on)  # (a ModelForm has set the new one already)
    organisation.name = name
    organisation.kind = kind
    organisation.founded_on = founded_on
    organisation.merged_group = merged_group
    organisation.full_clean(exclude=["path", "depth", "numchild"])
    _check_founding_kept_in_order(organisation, founded_on)  # against the stored date, read here
    organisation.save()
    refresh_organisations_on_commit(organisation)
    return organisation


def _meetings_of(organisation):
    """The organisation's meetings that stand (not voided): a 党小组's own, else those of the branches it
    is or holds (a branch's include its groups')."""
    meetings = Meeting.objects.filter(voided_at__isnull=True)
    if organisation.level == OrgLevel.GROUP:
        return meetings.filter(group=organisation)
    return meetings.filter(branch__path__startswith=organisation.path)


def _check_founded_before_records(organisation, founded_on):
    """A 成立日期 is not later than the organisation's own records: its elections and meetings (which
    record_term and the meeting service refuse before the founding)."""
    # A 党委's branches may be older than the 党委 they were moved under: only a branch's or group's own.
    holds_meetings = organisation.level in (OrgLevel.BRANCH, OrgLevel.GROUP)
    meetings = _meetings_of(organisation) if holds_meetings else Meeting.objects.none()
    first_meeting = meetings.aggregate(on=Min("held_on"))["on"]
    first_election = organisation.terms.aggregate(on=Min("elected_on"))["on"]
    records = [(on, what) for on, what in ((first_election, "换届选举"), (first_meeting, "会议")) if on]
    if not records:
        return
    earliest, what = min(records)
    if founded_on > earliest:
        raise ValidationError(
            {"founded_on": f"成立日期不能晚于该组织最早的记录：{earliest:%Y-%m-%d}的{what}。"}
        )


@transaction.atomic
def move_organisation(*, organisation, new_parent):
    if organisation.is_root():
        raise ValidationError("最上级党委不能移动。")
    if new_parent.pk == organisation.pk or new_parent.is_descendant_of(organisation):
        raise ValidationError("不能移动到自身或其下级组织之下。")
    if not organisation.is_active:
        raise ValidationError("已撤销的党组织不能移动。")
    check_parent(level=organisation.level, parent=new_parent)
    check_name_free(name=organisation.name, parent=new_parent, exclude_pk=organisation.pk)
    if organisation.level == OrgLevel.GROUP and organisation.founded_on < new_parent.founded_on:
        # A branch moved under a younger 党委 keeps its date; a group would owe meetings before its branch.
        raise ValidationError(
            f"“{organisation.name}”成立于{organisation.founded_on:%Y-%m-%d}，早于“{new_parent.name}”的成立日期"
            f"（{new_parent.founded_on:%Y-%m-%d}），不能移入该党支部。"
        )
    old_parent = Organisation.objects.get_parent(organisation)
    Organisation.objects.move(organisation, new_parent, pos="last-child")
    # treebeard rewrites paths with bulk updates; save once so the move is in the history.
    moved = Organisation.objects.get(pk=organisation.pk)
    moved._change_reason = f"由“{old_parent.name}”移至“{new_parent.name}”"
    moved.save()
    if moved.level == OrgLevel.GROUP and old_parent.pk != new_parent.pk:
        _move_members_with(moved, new_parent)
    # A 党小组 moved between branches: the old branch lets go of its flags, the new one raises them.
    refresh_organisations_on_commit(moved, *([old_parent] if moved.level == OrgLevel.GROUP else []))
    return moved


def _move_members_with(group, branch):
    """A 党小组 moved to another branch takes its members along: each is transferred (内部转接) as on the
    member's page, with the date and a note, so that every member's branch and group agree."""
    from members.models import Member  # members' services build on the tree's, not the other way
    from members.services import move_member

    today = timezone.localdate()
    for member in Member.objects.filter(group=group, on_roster=True).select_related("branch", "group"):
        move_member(member=member, branch=branch, group=group, on=today, today=today,
                    note=f"随党小组“{group.name}”调整至“{branch.name}”")  # fmt: skip


@transaction.atomic
def dissolve_organisation(*, organisation, dissolved_on, reason):
    """Mark the organisation dissolved. Its 党小组 go with it; active branches below must be handled first.

    Nothing is deleted: the organisation stays in the tree, greyed, with its history.
    """
    if not organisation.is_active:
        raise ValidationError("该党组织已撤销。")
    if dissolved_on > timezone.localdate():
        raise ValidationError({"dissolved_on": "撤销日期不能晚于今天。"})
    if dissolved_on < organisation.founded_on:
        raise ValidationError({"dissolved_on": "撤销日期不能早于成立日期。"})
    descendants = Organisation.objects.get_descendants(organisation).filter(dissolved_on__isnull=True)
    blocking = [o.name for o in descendants.exclude(level=OrgLevel.GROUP)[:5]]
    if blocking:
        raise ValidationError(
            "请先撤销或移走下级党组织：" + "、".join(blocking) + ("等" if len(blocking) == 5 else "")
        )
    _check_dissolved_after_records(organisation, dissolved_on)
    _check_roster_empty(organisation)
    for node in [*descendants, organisation]:
        node.dissolved_on = dissolved_on
        node.dissolve_reason = reason
        node._change_reason = f"撤销：{reason}"
        node.save()
    refresh_organisations_on_commit(organisation)
    return organisation


def _check_roster_empty(organisation):
    """A 党支部 or 党小组 is dissolved once nobody is on its roster: members of a dissolved one would drop
    out of the roster list and still be counted (their branch transfers them out, or moves them to
    another group, first)."""
    if organisation.level not in (OrgLevel.BRANCH, OrgLevel.GROUP):
        return  # a 党委 or 党总支 holds no members itself, and its branches are dissolved first
    field = "group" if organisation.level == OrgLevel.GROUP else "branch"
    counts = Member.objects.filter(**{field: organisation}, on_roster=True).aggregate(
        total=Count("pk"), party=Count("pk", filter=Q(category__in=PARTY_MEMBER_CATEGORIES))
    )
    party, others = counts["party"], counts["total"] - counts["party"]
    pipeline = f"入党申请人、积极分子和发展对象 {others} 人"
    if party:
        held = f"党员 {party} 人" + (f"（另有{pipeline}）" if others else "")
    elif others:
        held = f"的{pipeline}"
    else:
        return
    raise ValidationError(f"该组织仍有在册{held}，请先办理转出或调整党小组后再撤销。")


def _check_dissolved_after_records(organisation, dissolved_on):
    """The 撤销日期 is not before what the organisation (and its subtree) recorded: a meeting is held
    before the dissolution (the meeting service refuses one on or after it), an election not after it."""
    last_meeting = _meetings_of(organisation).aggregate(on=Max("held_on"))["on"]
    if last_meeting and dissolved_on <= last_meeting:
        raise ValidationError(
            {"dissolved_on": f"该组织最近一次会议于{last_meeting:%Y-%m-%d}召开，撤销日期应晚于该日期。"}
        )
    terms = CommitteeTerm.objects.filter(organisation__path__startswith=organisation.path)
    last_election = terms.aggregate(on=Max("elected_on"))["on"]
    if last_election and dissolved_on < last_election:
        raise ValidationError(
            {"dissolved_on": f"该组织最近一次换届选举于{last_election:%Y-%m-%d}，撤销日期不能早于该日期。"}
        )


def term_holders(term):
    """{position code: CommitteePosition}: who holds each post at the term's end, in office now or until the
    next election ended the term. A post whose holder left during the term without a successor is vacant
    (absent here): their record keeps their dates."""
    successor = successor_election(term)
    latest = _latest_holders(term)
    return {code: position for code, position in latest.items() if _stands(position, successor)}


def _stands(position, successor):
    """Whether the holder holds the post to the term's end (a past term's posts all end at the next
    election; an open one in a past term, as nothing records now, is taken as holding it)."""
    return position.ended_on is None or position.ended_on == successor


def _latest_holders(term):
    """{position code: CommitteePosition}: the last holder of each post in the term, sitting or not."""
    holders = {}
    for position in term.positions.order_by("started_on", "pk"):
        holders[position.position] = position
    return holders


def term_record(term):
    """Every holder of the term's posts with their dates, post by post, earliest first (the term page)."""
    return sorted(
        term.positions.all(), key=lambda p: (POSITION_ORDER.get(p.position, 99), p.started_on, p.pk)
    )


@transaction.atomic
def record_term(*, organisation, elected_on, ends_on=None, note="", positions=()):
    """Record an election: a new committee term with its office-holders.

    positions: iterable of (position code, holder name). Office-holders of the
    previous terms leave office on the election date.
    """
    if organisation.level == OrgLevel.GROUP:
        raise ValidationError("党小组不设委员会。")
    if not organisation.is_active:
        raise ValidationError("已撤销的党组织不能换届。")
    # Checked before the default end date is computed from it (9999 + 5 years does not exist).
    if elected_on > timezone.localdate():
        raise ValidationError({"elected_on": "选举日期不能晚于今天。"})
    if elected_on < organisation.founded_on:
        raise ValidationError({"elected_on": "选举日期不能早于该党组织的成立日期。"})
    term = CommitteeTerm(
        organisation=organisation,
        elected_on=elected_on,
        ends_on=ends_on or latest_term_end(organisation, elected_on),
        note=note,
    )
    term.full_clean()
    _check_term_end(term)
    if CommitteeTerm.objects.filter(organisation=organisation, elected_on=elected_on).exists():
        raise ValidationError({"elected_on": "该日期已有一次换届记录。"})
    term.save()
    # An earlier term recorded afterwards (历届补录): its office-holders left at the next election.
    successor = successor_election(term)
    _end_previous_positions(organisation=organisation, term=term, successor=successor)
    bulk_create_with_history(
        [
            CommitteePosition(
                term=term, position=code, holder_name=name.strip(), started_on=elected_on, ended_on=successor
            )
            for code, name in positions
            if name and name.strip()
        ],
        CommitteePosition,
    )
    refresh_organisations_on_commit(organisation)
    return term


def latest_term_end(organisation, elected_on):
    """The statutory end of a term elected on that date (and its default 届满日期): the 党委's local term
    where it sets one, else 5 years for 村、社区 organisations and 基层党委, 3 for the others."""
    return elected_on + relativedelta(years=term_years(organisation, elected_on))


POSTPONED_AT_MOST = relativedelta(
    years=1
)  # 延期换届, with the approval of the level above (支部条例 第二十一条)


def _check_term_end(term):
    """届满 at the statutory term after the election, or up to a year later for an approved 延期换届, which the
    note must record."""
    latest = latest_term_end(term.organisation, term.elected_on)
    if term.ends_on <= latest:
        return
    postponed = latest + POSTPONED_AT_MOST
    if term.ends_on > postponed:
        years = term_years(term.organisation, term.elected_on)
        raise ValidationError(
            {
                "ends_on": f"届满日期不能晚于{latest:%Y-%m-%d}：该党组织每届任期{years}年，自选举日期起算。"
                f"经上级党组织批准延期换届的，最迟至{postponed:%Y-%m-%d}，并须在备注中写明批准情况。"
            }
        )
    if not term.note.strip():
        raise ValidationError(
            {
                "note": f"届满日期晚于任期届满日（{latest:%Y-%m-%d}）：延期换届须经上级党组织批准，请在备注中写明批准情况。"
            }
        )


def successor_election(term):
    """The date of the organisation's next election after this term's (which ended its posts), or None."""
    return (
        CommitteeTerm.objects.filter(organisation=term.organisation_id, elected_on__gt=term.elected_on)
        .order_by("elected_on")
        .values_list("elected_on", flat=True)
        .first()
    )


def _end_previous_positions(*, organisation, term, successor=None):
    """The election ends every earlier term's posts on its date: those still open, and, when it is an
    earlier election recorded afterwards, those its successor (the next election) had ended."""
    ended_by_successor = Q(ended_on=successor) if successor else Q(pk__in=[])
    open_positions = CommitteePosition.objects.filter(
        Q(ended_on__isnull=True) | ended_by_successor,
        term__organisation=organisation,
        term__elected_on__lt=term.elected_on,
    )
    for position in open_positions:
        position.ended_on = term.elected_on
        position._change_reason = "换届离任"
        position.save()


@transaction.atomic
def update_term(*, term, ends_on, note, positions, changed_on=None):
    """Correct a term's end date and note, and its office-holders; the history keeps the old values.

    positions: (position code, name) of each post as it should stand at the term's end (term_holders).
    changed_on: the date of a change of office-holders (补选、调整) within the term: a holder replaced or
    removed leaves on it and the new one takes office on it; a new record each, the old keeping its dates.
    Without it the names are corrections: a typo in a sitting (or, in a past term, the last) holder's name
    is fixed on that record, and a post never filled is filled from the election (补录). Leaving and
    taking up a post are never corrections: a blank name makes a sitting post vacant from today, and a
    post left vacant during the term is filled by a new holder from today (a past term needs the date).
    """
    end_changed = ends_on != term.ends_on
    term.ends_on = ends_on
    term.note = note
    term.full_clean()
    if end_changed:  # a term stored before the rule can still have its office-holders corrected
        _check_term_end(term)
    term.save()
    successor = successor_election(term)
    today = timezone.localdate()
    if changed_on is not None:
        _check_change_date(term, changed_on, successor, today)
    latest = _latest_holders(term)
    term.changes = []  # what the save did to the office-holders, for the page to say
    for code, name in positions:
        name = (name or "").strip()
        last = latest.get(code)
        standing = last if last is not None and _stands(last, successor) else None
        if standing is not None:
            if name == standing.holder_name:
                continue
            if name and changed_on is None:
                term.changes.append(f"{_post(code)}“{standing.holder_name}”更正为“{name}”")
                standing.holder_name = name
                standing._change_reason = "更正姓名"
                standing.save()
                continue
            if changed_on is None and successor is not None:  # the next election ended the post
                raise ValidationError(
                    {"changed_on": f"{_post(code)}{standing.holder_name}任职至{successor:%Y-%m-%d}换届；"
                     "如系届中离任，请选择“人员变动”并填写变动日期。"}
                )  # fmt: skip
            left_on = changed_on or max(today, standing.started_on)
            if left_on < standing.started_on:
                raise ValidationError(
                    {"changed_on": f"变动日期不能早于{_post(code)}{standing.holder_name}的任职日期"
                     f"（{standing.started_on:%Y-%m-%d}）。"}
                )  # fmt: skip
            standing.ended_on = left_on
            standing._change_reason = "届中离任"
            standing.save()
            term.changes.append(f"{_post(code)}{standing.holder_name}于{left_on:%Y-%m-%d}离任")
            if name:
                _take_office(term, code, name, left_on, successor)
        elif name:
            started_on = _start_of_new_holder(
                term, code, last, changed_on=changed_on, successor=successor, today=today
            )
            _take_office(term, code, name, started_on, successor)
    refresh_organisations_on_commit(term.organisation)
    return term


def _post(code):
    return Position(code).label


def _check_change_date(term, changed_on, successor, today):
    if changed_on > today:
        raise ValidationError({"changed_on": "变动日期不能晚于今天。"})
    if changed_on < term.elected_on:
        raise ValidationError({"changed_on": f"变动日期不能早于本届选举日期（{term.elected_on:%Y-%m-%d}）。"})
    if successor is not None and changed_on >= successor:
        raise ValidationError(
            {
                "changed_on": f"变动日期应早于下一届选举日期（{successor:%Y-%m-%d}），届满后的人选由换届选举记录。"
            }
        )


def _start_of_new_holder(term, code, last, *, changed_on, successor, today):
    """When a holder takes up a post nobody holds: the election for one never filled (补录), unless a
    change date says otherwise; after a holder who left, the change date or today, not before they left."""
    if last is None:
        return changed_on or term.elected_on
    if changed_on is None and successor is not None:
        raise ValidationError(
            {"changed_on": f"{_post(code)}{last.holder_name}已于{last.ended_on:%Y-%m-%d}离任，"
             "补任往届的职务请选择“人员变动”并填写变动日期。"}
        )  # fmt: skip
    started_on = changed_on or today
    if started_on < last.ended_on:
        raise ValidationError(
            {"changed_on": f"{_post(code)}{last.holder_name}于{last.ended_on:%Y-%m-%d}离任，"
             "新任的任职日期不能早于该日期。"}
        )  # fmt: skip
    return started_on


def _take_office(term, code, name, started_on, successor):
    position = CommitteePosition(
        term=term, position=code, holder_name=name, started_on=started_on, ended_on=successor
    )
    position._change_reason = "届中任职" if started_on > term.elected_on else "补录委员"
    position.full_clean()
    position.save()
    term.changes.append(f"{name}自{started_on:%Y-%m-%d}任{_post(code)}")


# ---------------------------------------------------------------- accounts

# The levels each role is given on: the township office on a 党委 (or 党总支), a branch's roles on its
# branch, a group leader on the group. The 党员 role goes with a roster entry (Member.user): not given here.
ROLE_LEVELS = {
    Role.TOWNSHIP_ADMIN: {OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH},
    Role.TOWNSHIP_LEADER: {OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH},
    Role.INSTRUCTOR: {OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH, OrgLevel.BRANCH},
    Role.SECRETARY: {OrgLevel.GENERAL_BRANCH, OrgLevel.BRANCH},
    Role.COMMITTEE_MEMBER: {OrgLevel.GENERAL_BRANCH, OrgLevel.BRANCH},
    Role.GROUP_LEADER: {OrgLevel.GROUP},
}
# Letters and digits that cannot be mistaken for one another when read out or copied from a screen.
LEGIBLE_CHARACTERS = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
TEMPORARY_PASSWORD_LENGTH = 12


def temporary_password():
    """A random password, shown once to the office, which asks the user to replace it (stored hashed)."""
    return "".join(secrets.choice(LEGIBLE_CHARACTERS) for _ in range(TEMPORARY_PASSWORD_LENGTH))


def _check_role(*, role, organisation, by=None):
    if role not in ROLE_LEVELS:
        raise ValidationError({"role": "党员本人的账号请在该党员的页面开通（与名册关联）。"})
    if organisation.level not in ROLE_LEVELS[role]:
        levels = "、".join(OrgLevel(level).label for level in sorted(ROLE_LEVELS[role]))
        raise ValidationError({"organisation": f"{Role(role).label}只能授予在{levels}上。"})
    if not organisation.is_active:
        raise ValidationError({"organisation": f"“{organisation.name}”已撤销，不能在其上授予角色。"})
    if by is not None and peer_role(by, role, organisation):
        # The account would be a colleague's, which no office manages (access.scoped_accounts): the
        # office could neither see it again nor show its new password.
        raise ValidationError({"role": (
            f"不能在“{organisation.name}”上授予与您同级的{Role(role).label}角色：授予后该账号将不再由您管理。"
            "同级的党委管理员请由上级党组织的管理员授予。"
        )})  # fmt: skip


@transaction.atomic
def open_account(*, username, full_name, role, organisation, email="", by=None):
    """A new login with one role. Returns (user, temporary password)."""
    _check_role(role=role, organisation=organisation, by=by)
    return _new_login(
        username=username, full_name=full_name, email=email, role=role, organisation=organisation, by=by
    )


@transaction.atomic
def open_member_account(*, member, username, by=None):
    """A 党员's own login, tied to their roster entry: it reads their own record and nothing else (the 党员
    role on their branch). Returns (user, temporary password)."""
    member = (
        type(member).objects.select_for_update().select_related("branch").get(pk=member.pk)
    )  # one at a time
    if member.user_id:
        raise ValidationError("该党员已有登录账号。")
    if not member.on_roster or not member.branch.is_active:
        raise ValidationError("只能为名册上、党组织未撤销的党员开通账号。")
    if member.category not in PARTY_MEMBER_CATEGORIES:
        raise ValidationError("只能为正式党员和预备党员开通党员账号。")
    user, password = _new_login(username=username, full_name=member.name, email="", role=Role.MEMBER,
                                organisation=member.branch, by=by)  # fmt: skip
    member.user = user
    member._change_reason = "开通登录账号"
    member.save(update_fields=["user"])
    return user, password


def _new_login(*, username, full_name, email, role, organisation, by):
    User = get_user_model()
    username = User.normalize_username(username)  # as create_user stores it: ＳＥＣＲＥＴＡＲＹ is SECRETARY
    taken = ValidationError({"username": f"用户名“{username}”已被使用。"})
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    password = temporary_password()
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username, password=password, first_name=full_name, email=email
            )
    except IntegrityError as error:  # the same name opened a moment ago (a double submit)
        raise taken from error
    RoleAssignment.objects.create(user=user, organisation=organisation, role=role)
    AccountEvent.objects.create(account=user, kind=AccountEvent.Kind.OPENED, by=by)
    return user, password


@transaction.atomic
def grant_role(*, account, role, organisation, by=None):
    """by: the office giving it, which may not make the account its peer (see _check_role)."""
    _check_role(role=role, organisation=organisation, by=by)
    if RoleAssignment.objects.filter(user=account, organisation=organisation, role=role).exists():
        raise _held(organisation, role)
    try:
        with transaction.atomic():
            return RoleAssignment.objects.create(user=account, organisation=organisation, role=role)
    except IntegrityError as error:  # the same role given a moment ago (a double submit)
        raise _held(organisation, role) from error


def _held(organisation, role):
    return ValidationError(f"该账号已有{label_of(organisation)}的{Role(role).label}角色。")


@transaction.atomic
def revoke_role(*, assignment):
    """Take a role away (the history keeps who had it and until when). An account keeps one role at
    least: an account with none is no office's to manage; one no longer used is deactivated instead."""
    others = RoleAssignment.objects.select_for_update().filter(user_id=assignment.user_id)
    if not others.exclude(pk=assignment.pk).exists():
        raise ValidationError("这是该账号唯一的角色，不能收回；如该账号不再使用，请停用账号。")
    assignment.delete()


@transaction.atomic
def reset_password(*, account, by=None):
    """A new temporary password; the old one stops working at once. Returns it (shown once)."""
    password = temporary_password()
    account.set_password(password)
    account.save(update_fields=["password"])
    AccountEvent.objects.create(account=account, kind=AccountEvent.Kind.PASSWORD, by=by)
    return password


# The password events: the office's leave a temporary password the user must replace at their next login.
TEMPORARY_PASSWORD_EVENTS = (AccountEvent.Kind.OPENED, AccountEvent.Kind.PASSWORD)
PASSWORD_EVENTS = (*TEMPORARY_PASSWORD_EVENTS, AccountEvent.Kind.OWN_PASSWORD)


def holds_temporary_password(account):
    """Whether the account's password is still one the office set (opened or reset, not changed since)."""
    latest = account.account_events.filter(kind__in=PASSWORD_EVENTS).order_by("-at", "-pk").first()
    return latest is not None and latest.kind in TEMPORARY_PASSWORD_EVENTS


def record_own_password_change(*, account):
    AccountEvent.objects.create(account=account, kind=AccountEvent.Kind.OWN_PASSWORD, by=account)


@transaction.atomic
def set_account_email(*, account, email, by=None):
    """The address of the daily reminder email (the digest skips an account without one)."""
    if email == account.email:
        return account
    account.email = email
    account.save(update_fields=["email"])
    AccountEvent.objects.create(
        account=account, kind=AccountEvent.Kind.EMAIL, detail=email or "（清除）", by=by
    )
    return account


@transaction.atomic
def set_account_active(*, account, active, by=None):
    """Stop (or allow again) an account's logins; its roles and history are kept."""
    if account.is_active == active:
        return account
    AccountEvent.objects.create(
        account=account, kind=AccountEvent.Kind.RESTARTED if active else AccountEvent.Kind.STOPPED, by=by
    )
    account.is_active = active
    # Django turns away an inactive account's sessions at their next request (ModelBackend.get_user),
    # as it does the sessions of a changed password: nothing to delete here.
    account.save(update_fields=["is_active"])
    return account
