"""Reads of 民主评议党员, scoped through branches.access; query counts do not grow with the data.

For the compliance engine (issue D wires these in; they take branch ids, not a user):

- ``closed_review_years(branch_ids=None) -> {(branch_id, year)}``: the branch-years whose
  campaign is closed (已完成 or 已上报, not voided). That is what satisfies the member_review
  rule for the year: closing needs a grade for every participant, so a closed campaign is
  complete by construction. A returned campaign does not count until it is closed again.
  One query.
- ``open_followups(branch_ids=None, *, as_of) -> [OpenFollowUp]``: what still needs doing after
  the grades: each open 限期改正 / 劝退 / 除名 record (state "overdue" once its deadline has
  passed, else "open"), and each member graded 基本合格 or 不合格 in a closed campaign with no
  follow-up recorded at all (state "missing"). Each item carries a stable key for the flag,
  the branch, member, campaign and a Chinese message. Two queries.

For the 台账 export (issue G): ``results_rows(campaign)`` gives the results sheet as plain rows.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import Http404

from branches.access import Action, get_object_for, scoped, visible_branches
from members.names import distinct_labels

from .models import (
    COUNTED_STATUSES,
    LOW_GRADES,
    Campaign,
    CampaignStatus,
    FollowUp,
    FollowUpKind,
    Grade,
    Participant,
)

CAMPAIGN_VIA = ("branch",)


def campaigns_for(user, action=Action.VIEW):
    return scoped(Campaign.objects.all(), user, action, via=CAMPAIGN_VIA)


def get_campaign_for(user, pk, action=Action.VIEW):
    """A visible campaign (else 404); other actions need the role on its branch (else 403)."""
    return get_object_for(user, Campaign.objects.select_related("branch"), pk, action, via=CAMPAIGN_VIA)


def get_participant_for(campaign, pk):
    participant = campaign.participants.select_related("member").filter(pk=pk).first()
    if participant is None:
        raise Http404("没有找到该参评党员。")
    participant.campaign = campaign
    return participant


def get_followup_for(user, pk, action=Action.VIEW):
    return get_object_for(
        user,
        FollowUp.objects.select_related("participant__member", "participant__campaign__branch"),
        pk,
        action,
        via=("participant__campaign__branch",),
    )


def _participants_queryset():
    return (
        Participant.objects.select_related("member__group")
        .prefetch_related(
            Prefetch(
                "followups",
                queryset=FollowUp.objects.filter(voided_at__isnull=True).order_by("proposed_on", "pk"),
            )
        )
        .order_by("member__name_initials", "member__name", "pk")
    )


def campaign_detail(campaign):
    """The campaign with its participants, follow-ups, counts and history, in a fixed number of queries."""
    campaign = (
        Campaign.objects.select_related("branch", "org_life_meeting", "created_by")
        .prefetch_related(Prefetch("participants", queryset=_participants_queryset()))
        .get(pk=campaign.pk)
    )
    participants = list(campaign.participants.all())
    label_participants(participants)
    graded = [p for p in participants if not p.is_exempt]
    exempt = [p for p in participants if p.is_exempt]
    distribution = dict.fromkeys(Grade.values, 0)
    for p in graded:
        if p.grade:
            distribution[p.grade] += 1
    low = [p for p in graded if p.grade in LOW_GRADES]
    return {
        "campaign": campaign,
        "participants": graded,
        "exempt": exempt,
        "distribution": [(Grade(code).label, code, n) for code, n in distribution.items()],
        "ungraded": sum(1 for p in graded if not p.grade),
        "low": low,
        "history": list(campaign.history.select_related("history_user").order_by("-history_date")[:30]),
    }


def returned_campaigns(user):
    """Campaigns the township office returned (退回修改, with its comment) that the branch has not yet taken
    back to correct: they no longer count for member_review, and only the branch can act on them."""
    return campaigns_for(user).filter(status=CampaignStatus.RETURNED, voided_at__isnull=True)


def label_participants(participants):
    """Set each participant's `label`: their name, and for a namesake on the campaign's list what tells them
    apart (members.names.distinct_labels; members read with their group)."""
    labels = distinct_labels(p.member for p in participants)
    for p in participants:
        p.label = labels[p.member_id]
    return participants


def branch_campaigns(user, branch):
    return (
        campaigns_for(user)
        .filter(branch=branch)
        .annotate(n_participants=Count("participants", filter=Q(participants__exempt_reason="")))
        .order_by("-year", "-pk")
    )


def year_campaign(branch, year):
    """The branch's campaign for the year (not voided), or None."""
    return Campaign.objects.filter(branch=branch, year=year, voided_at__isnull=True).first()


def _active_in(branches, year):
    return branches.filter(founded_on__lte=date(year, 12, 31)).filter(
        Q(dissolved_on__isnull=True) | Q(dissolved_on__gt=date(year, 1, 1))
    )


def overview_branches(user, *, year):
    """The branches of the user's view scope that existed in the year (paginate this)."""
    return _active_in(visible_branches(user), year).order_by("path")


def _grade_counts():
    counts = {
        "n_participants": Count("participants", filter=Q(participants__exempt_reason=""), distinct=True),
        "n_exempt": Count("participants", filter=~Q(participants__exempt_reason=""), distinct=True),
        "n_graded": Count("participants", filter=~Q(participants__grade=""), distinct=True),
        "n_open_followups": Count(
            "participants__followups",
            filter=Q(
                participants__followups__closed_on__isnull=True,
                participants__followups__voided_at__isnull=True,
            ),
            distinct=True,
        ),
    }
    for code in Grade.values:
        counts[f"n_{code}"] = Count("participants", filter=Q(participants__grade=code), distinct=True)
    return counts


def overview_rows(branches, *, year):
    """For a page of branches: (branch, campaign or None) with the campaign's counts. One query."""
    branches = list(branches)
    campaigns = {
        c.branch_id: c
        for c in Campaign.objects.filter(branch__in=branches, year=year, voided_at__isnull=True).annotate(
            **_grade_counts()
        )
    }
    return [(branch, campaigns.get(branch.pk)) for branch in branches]


def overview_summary(branches, *, year):
    """Across all the branches: how many campaigns in each status, and the grade distribution.

    Three queries whatever the number of branches.
    """
    total = branches.count()
    campaigns = Campaign.objects.filter(branch__in=branches, year=year, voided_at__isnull=True)
    by_status = dict(campaigns.order_by().values_list("status").annotate(n=Count("pk")))
    grades = dict(
        Participant.objects.filter(campaign__in=campaigns, exempt_reason="")
        .order_by()
        .values_list("grade")
        .annotate(n=Count("pk"))
    )
    statuses = [(CampaignStatus(code).label, code, by_status.get(code, 0)) for code in CampaignStatus.values]
    return {
        "total": total,
        "not_opened": total - sum(by_status.values()),
        "statuses": statuses,
        "done": sum(by_status.get(code, 0) for code in COUNTED_STATUSES),
        "grades": [(Grade(code).label, code, grades.get(code, 0)) for code in Grade.values],
        "ungraded": grades.get("", 0),
    }


# ---------------------------------------------------------------- for the compliance engine


def closed_reviews(branch_ids=None):
    """The (branch_id, year) rows of closed campaigns (已完成 or 已上报): what satisfies member_review."""
    qs = Campaign.objects.filter(status__in=COUNTED_STATUSES, voided_at__isnull=True)
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    return qs.values_list("branch_id", "year")


def closed_review_years(branch_ids=None):
    """{(branch_id, year)} of closed campaigns."""
    return set(closed_reviews(branch_ids))


@dataclass(frozen=True)
class OpenFollowUp:
    key: str
    state: str  # "overdue", "open" or "missing"
    branch_id: int
    member_id: int
    campaign_id: int
    year: int
    message: str
    followup_id: int | None = None
    due_on: date | None = None


def followup_reads(branch_ids=None, *, as_of):
    """The two querysets `followups_from` reads, by name (the engine reads them with its own)."""
    followups = FollowUp.objects.filter(
        voided_at__isnull=True, proposed_on__lte=as_of, participant__campaign__voided_at__isnull=True
    ).filter(Q(closed_on__isnull=True) | Q(closed_on__gt=as_of))
    low = Participant.objects.filter(
        grade__in=LOW_GRADES, campaign__status__in=COUNTED_STATUSES, campaign__voided_at__isnull=True
    ).filter(~Exists(FollowUp.objects.filter(participant=OuterRef("pk"), voided_at__isnull=True)))
    if branch_ids is not None:
        followups = followups.filter(participant__campaign__branch_id__in=branch_ids)
        low = low.filter(campaign__branch_id__in=branch_ids)
    return {
        "followups": followups.values("pk", "kind", "deadline_on", "participant__member_id",
                                      "participant__member__name", "participant__grade",
                                      "participant__campaign_id", "participant__campaign__branch_id",
                                      "participant__campaign__year"),
        "low_grades": low.values("pk", "grade", "member_id", "member__name", "campaign_id", "campaign__branch_id",
                                 "campaign__year", "campaign__closed_on"),
    }  # fmt: skip


def followups_from(rows, *, as_of):
    """Open follow-ups from the rows of `followup_reads`, in the order they were recorded."""
    grades, kinds = dict(Grade.choices), dict(FollowUpKind.choices)
    items = []
    for f in sorted(rows["followups"], key=lambda row: row["pk"]):
        deadline = f["deadline_on"]
        overdue = deadline is not None and deadline < as_of
        due = f"，期限{deadline:%Y-%m-%d}" if deadline else ""
        year = f["participant__campaign__year"]
        grade = grades.get(f["participant__grade"], f["participant__grade"])
        items.append(OpenFollowUp(
            key=f"member_review_followup:f{f['pk']}", state="overdue" if overdue else "open",
            branch_id=f["participant__campaign__branch_id"], member_id=f["participant__member_id"],
            campaign_id=f["participant__campaign_id"], year=year,
            message=f"{f['participant__member__name']}{year}年度民主评议{grade}，{kinds.get(f['kind'], f['kind'])}未办结{due}",
            followup_id=f["pk"], due_on=deadline,
        ))  # fmt: skip
    for p in sorted(rows["low_grades"], key=lambda row: row["pk"]):
        if p["campaign__closed_on"] and p["campaign__closed_on"] > as_of:
            continue
        year = p["campaign__year"]
        items.append(OpenFollowUp(
            key=f"member_review_followup:p{p['pk']}", state="missing", branch_id=p["campaign__branch_id"],
            member_id=p["member_id"], campaign_id=p["campaign_id"], year=year,
            message=f"{p['member__name']}{year}年度民主评议{grades.get(p['grade'], p['grade'])}，尚未登记限期改正等后续处置",
        ))  # fmt: skip
    return items


def open_followups(branch_ids=None, *, as_of):
    """Follow-ups still open on as_of, and low grades of closed campaigns with none recorded."""
    return followups_from(
        {name: list(qs) for name, qs in followup_reads(branch_ids, as_of=as_of).items()}, as_of=as_of
    )


# ---------------------------------------------------------------- for the 台账 export


def _followup_text(followup):
    text = followup.get_kind_display() + f"（{followup.proposed_on:%Y-%m-%d}提出"
    if followup.deadline_on:
        text += f"，期限{followup.deadline_on:%Y-%m-%d}"
    text += "）"
    if followup.closed_on:
        text += f"{followup.closed_on:%Y-%m-%d}办结：{followup.outcome}"
    else:
        text += "未办结"
    return text


def results_rows(campaign):
    """The campaign's results sheet as plain rows (dicts of text and numbers), graded members first.

    Keys: name, category, away, votes_excellent, votes_qualified, votes_basic, votes_unqualified,
    votes_total, grade, grade_reason, exempt_reason, followup. Two queries.
    """
    return results_by_campaign([campaign])[campaign.pk]


def results_by_campaign(campaigns):
    """{campaign id: its results_rows} of many campaigns (a county's ledgers), in two queries."""
    rows = {c.pk: [] for c in campaigns}
    participants = _participants_queryset().filter(campaign__in=campaigns)
    for p in sorted(participants, key=lambda p: p.is_exempt):  # stable: each campaign's order kept
        rows[p.campaign_id].append({
            "member_id": p.member_id,
            "name": p.member.name,
            "category": p.get_category_display(),
            "away": "外出" if p.away else "",
            "votes_excellent": p.votes_excellent,
            "votes_qualified": p.votes_qualified,
            "votes_basic": p.votes_basic,
            "votes_unqualified": p.votes_unqualified,
            "votes_total": p.votes_total,
            "grade": p.get_grade_display() if p.grade else ("不参加评议" if p.is_exempt else ""),
            "grade_reason": p.grade_reason,
            "exempt_reason": p.exempt_reason,
            "followup": "；".join(_followup_text(f) for f in p.followups.all()),
        })  # fmt: skip
    return rows
