"""Reads of organisational-life records, scoped through branches.access; query counts stay constant."""

from dataclasses import dataclass
from functools import reduce
from operator import or_
from types import SimpleNamespace

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Prefetch, Q
from django.http import Http404

from branches.access import Action, can, get_object_for, scoped
from compliance.engine import talk_parties_of
from compliance.local import fixed_theme_day
from compliance.rules import ORG_LIFE_RECORDS, missing_org_life_records_by_stage, talk_gaps
from members.names import distinct_labels

from .models import (
    Attendance,
    AttendanceStatus,
    Meeting,
    MeetingType,
    MeetingTypeTag,
    RectificationItem,
    ReviewState,
    Talk,
)

MEETING_VIA = ("branch", "group")


def meetings_for(user, action=Action.VIEW):
    return scoped(Meeting.objects.all(), user, action, via=MEETING_VIA)


# What a secretary remembers of a meeting: its 主题, where it was, who led or spoke, a phrase of its record.
SEARCHED_FIELDS = ("topic", "place", "host", "lecturer", "content")


def matching(queryset, q):
    """Meetings with every word of q (split on spaces) in one of SEARCHED_FIELDS."""
    for word in q.split():
        queryset = queryset.filter(
            reduce(or_, (Q(**{f"{name}__icontains": word}) for name in SEARCHED_FIELDS))
        )
    return queryset


def resubmitted_after_return():
    """Records submitted again after the office returned them (awaiting its second look): submitted now, and
    returned at least once by their history. One EXISTS on the history table's indexed id, no query per row."""
    returned = Meeting.history.filter(id=OuterRef("pk"), review_state=ReviewState.RETURNED)
    return Q(review_state=ReviewState.SUBMITTED) & Exists(returned)


def meeting_list(user, *, branch=None, year=None, type=None, state=None, void="", within=None,
                 since=None, until=None, backfill=False, q="", resubmitted=False):  # fmt: skip
    """within: an organisation whose subtree the list keeps to; since / until: held between (inclusive);
    backfill: only records entered late (补录); q: words to find (matching); void: "" valid records only,
    "1" with the voided ones, "only" the voided ones alone; resubmitted: only records submitted again after a
    return. Each record carries `resubmitted` (the list marks them)."""
    qs = (
        meetings_for(user)
        .select_related("branch", "group")
        .prefetch_related("types")
        .annotate(resubmitted=ExpressionWrapper(resubmitted_after_return(), output_field=BooleanField()))
    )
    if resubmitted:
        qs = qs.filter(resubmitted_after_return())
    if q:
        qs = matching(qs, q)
    if branch:
        qs = qs.filter(branch=branch)
    if within:
        qs = qs.filter(branch__path__startswith=within.path)
    if year:
        qs = qs.filter(held_on__year=year)
    if since:
        qs = qs.filter(held_on__gte=since)
    if until:
        qs = qs.filter(held_on__lte=until)
    if backfill:
        qs = qs.filter(is_backfill=True)
    if type:
        qs = qs.filter(types__type=type)
    if state:
        qs = qs.filter(review_state=state)
    if void == "only":
        qs = qs.filter(voided_at__isnull=False)
    elif void != "1":
        qs = qs.filter(voided_at__isnull=True)
    return qs.order_by("-held_on", "-pk")


def with_attendance_counts(meetings):
    """Set expected / present on the meetings of one page, in one aggregate query.

    Counting in the list's own query would count attendance for every meeting of the list (a
    county's year) just to show thirty of them.
    """
    meetings = list(meetings)
    counts = {
        row["meeting_id"]: row
        for row in Attendance.objects.filter(meeting_id__in=[m.pk for m in meetings])
        .order_by()
        .values("meeting_id")
        .annotate(expected=Count("pk"), present=Count("pk", filter=Q(status=AttendanceStatus.PRESENT)))
    }
    for meeting in meetings:
        row = counts.get(meeting.pk, {})
        meeting.expected, meeting.present = row.get("expected", 0), row.get("present", 0)
    return meetings


def get_meeting_for(user, pk, action=Action.VIEW):
    """A visible meeting (else 404); other actions need the role on the meeting's branch or group (else 403)."""
    return get_object_for(user, Meeting.objects.all(), pk, action, via=MEETING_VIA)


def meeting_detail(meeting):
    meeting = (
        Meeting.objects.select_related("branch", "group", "created_by")
        .prefetch_related(
            Prefetch("types", queryset=MeetingTypeTag.objects.order_by("pk")),
            Prefetch(
                "attendance",
                queryset=Attendance.objects.select_related("member__group").order_by("member__name_initials"),
            ),
            "attachments",
            Prefetch(
                "rectifications",
                queryset=RectificationItem.objects.filter(voided_at__isnull=True).order_by("due_on", "pk"),
            ),
        )
        .get(pk=meeting.pk)
    )
    by_status = {status: [] for status in AttendanceStatus.values}
    labels = distinct_labels(row.member for row in meeting.attendance.all())
    for row in meeting.attendance.all():
        row.label = labels[row.member_id]
        by_status[row.status].append(row)
    types = {t.type for t in meeting.types.all()}
    theme_day = fixed_theme_day(meeting.branch, meeting.held_on) if "theme_day" in types else None
    return {
        "meeting": meeting,
        "by_status": by_status,
        "counts": {status: len(rows) for status, rows in by_status.items()},
        "expected": sum(len(rows) for rows in by_status.values()),
        "theme_day": theme_day,
        "off_day_unapproved": bool(
            theme_day and meeting.held_on != theme_day and not meeting.off_day_approved_by
        ),
        "org_life_missing": org_life_missing(meeting, types),
        "lost_but_present": lost_but_present(by_status[AttendanceStatus.PRESENT], meeting.held_on),
        "last_return": last_return(meeting) if meeting.review_state != ReviewState.CONFIRMED else None,
    }


def lost_but_present(present_rows, held_on):
    """The rows of people recorded present who were marked 失联 by then: the record says contact is back,
    and the 失联 date (which raises the 停止党籍 flag) is for the secretary to clear."""
    return [
        row for row in present_rows
        if row.member.lost_contact_on is not None and row.member.lost_contact_on <= held_on
    ]  # fmt: skip


def org_life_missing(meeting, types):
    """What a valid 组织生活会 still lacks of its 会前 / 会中 / 会后 records, by stage, as its org_life_records
    flag counts it ([] when complete, or when the record is void or of another type).
    The meeting's rectifications are the prefetched ones, not voided."""
    if meeting.voided_at or MeetingType.ORG_LIFE_MEETING not in types:
        return []
    record = {field: getattr(meeting, field) for field, _label in ORG_LIFE_RECORDS if field != "items"}
    record["items"] = len(meeting.rectifications.all())
    return missing_org_life_records_by_stage(record)


def roster_labels(rows):
    """{member_id: label} for roster rows (memberships as of a date, member and group loaded): namesakes on
    the list told apart by the 党小组 they were in that day, else as members.names.distinct_labels does."""
    return distinct_labels(
        SimpleNamespace(pk=row.member_id, name=row.member.name, birth_on=row.member.birth_on,
                        joined_on=row.member.joined_on, group=row.group)
        for row in rows
    )  # fmt: skip


def last_return(meeting):
    """The office's latest return of the record (SimpleNamespace of by, at, comment), read from its history in
    one query; None if it was never returned. A return is a history row that put the record in 退回修改
    (or, while it was returned, gave it a new comment)."""
    rows = list(
        meeting.history.order_by("history_date", "history_id").values_list(
            "review_state", "review_comment", "history_date", "history_user__first_name",
            "history_user__last_name", "history_user__username",
        )
    )  # fmt: skip
    found, before = None, (None, None)
    for state, comment, at, first, last, login in rows:
        if state == ReviewState.RETURNED and (state, comment) != before:
            found = SimpleNamespace(by=f"{first}{last}".strip() or login or "", at=at, comment=comment)
        before = (state, comment)
    return found


def returned_meetings(user):
    return meetings_for(user).filter(review_state=ReviewState.RETURNED, voided_at__isnull=True)


def talks_for(user, *, branch, year, void=False):
    """The branch's talks of the year, newest first; void: the voided ones too (shown as voided)."""
    qs = scoped(Talk.objects.all(), user, via=("branch",)).filter(branch=branch, talked_on__year=year)
    if not void:
        qs = qs.filter(voided_at__isnull=True)
    return qs.select_related("initiator__group", "counterpart__group")


def get_talk_for(user, branch, pk):
    """A talk of the branch the user may see (else 404): the branch was read through access already."""
    talk = (
        scoped(Talk.objects.all(), user, via=("branch",))
        .filter(branch=branch, pk=pk)
        .select_related("branch", "initiator", "counterpart")
        .first()
    )
    if talk is None:
        raise Http404("没有找到该谈话记录，或您无权查看。")
    return talk


@dataclass(frozen=True)
class TalkGapList:
    """Who the year's 谈心谈话 has still to reach, by name: `pairs` of committee members (甲, 乙) and
    `members`; committee: the names counted as 支委; has_term: a committee term is recorded."""

    required: int
    pairs: list
    members: list
    committee: list
    has_term: bool

    @property
    def missing(self):
        return len(self.pairs) + len(self.members)

    @property
    def covered(self):
        return self.required - self.missing


def talk_gap_list(branch, *, year, as_of, labels=None):
    """The talk_coverage rule's gaps for the year, named: the same people (the roster and committee as a
    refresh as of as_of reads them) and the same count as its flag (`talk_gaps`). Three queries.

    labels: {member id: label} the page names people by (members.names.distinct_labels), else their names."""
    parties = talk_parties_of(branch.pk, as_of=as_of, year=year)
    talks = Talk.objects.filter(branch=branch, talked_on__year=year, voided_at__isnull=True)
    gaps = talk_gaps(parties.committee, parties.members, talks.values_list("initiator_id", "counterpart_id"))
    names = {pk: (labels or {}).get(pk, name) for pk, name in parties.people}
    place = {pk: n for n, (pk, _name) in enumerate(parties.people)}  # by 姓名拼音, as the roster lists them
    pairs = sorted(
        (sorted(pair, key=place.get) for pair in gaps.pairs), key=lambda p: (place[p[0]], place[p[1]])
    )
    return TalkGapList(
        required=gaps.required,
        pairs=[(names[a], names[b]) for a, b in pairs],
        members=[names[pk] for pk in sorted(gaps.members, key=place.get)],
        committee=[names[pk] for pk, _name in parties.people if pk in parties.committee],
        has_term=parties.has_term,
    )


def may(user, meeting, action):
    return can(user, meeting.group or meeting.branch, action) or can(user, meeting.branch, action)
