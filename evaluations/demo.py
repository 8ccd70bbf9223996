"""Demo 民主评议党员 for the demo township: last year's campaigns closed (most reported, one returned,
one branch never held it), this year's under way in some branches, and the follow-ups of the few
low grades (one rectification overdue, one low grade with nothing recorded yet).

Written straight to the tables (with history) so seeding sends no refresh per branch; seed_demo
refreshes the compliance flags once at the end. Deterministic for a seed; skipped when the demo
township already has campaigns.
"""

import random
import uuid
from datetime import date, timedelta

from django.db import transaction
from simple_history.utils import bulk_create_with_history

from branches.models import CommitteePosition, Organisation, OrgLevel
from meetings.models import Meeting, MeetingType
from members.models import Member

from .models import Campaign, CampaignStatus, FollowUp, FollowUpKind, Grade, Participant
from .services import participant_snapshot

NEVER_HELD = {"青溪镇社会组织联合党支部"}  # last year's review was missed: the work list shows it
SHOWCASE = "幸福里社区第一党支部"  # the secretary's branch: closed last year, under way this year
SELF_ASSESSMENTS = [
    "一年来坚持学习党的创新理论，按时参加组织生活、交纳党费；不足是联系群众还不够经常。",
    "能够发挥党员先锋模范作用，积极参加志愿服务；今后要加强理论学习的深度。",
    "认真完成本职工作，带头参与社区治理；批评与自我批评还不够大胆。",
    "坚持学习，遵守纪律；因工作原因参加组织生活偶有请假，今后加以改进。",
]
LOW_REASONS = {
    Grade.BASIC: ["全年多次请假未参加组织生活，作用发挥不够明显", "理论学习不够主动，思想汇报不及时"],
    Grade.UNQUALIFIED: ["连续数月无正当理由不参加组织生活，经批评教育仍未改正"],
}


def _steps(start, today):
    days = {"study_start_on": 0, "study_end_on": 10, "self_assessment_on": 12, "vote_on": 15,
            "assessment_on": 16, "publicity_start_on": 17, "publicity_end_on": 23}  # fmt: skip
    return {
        field: start + timedelta(days=d) for field, d in days.items() if start + timedelta(days=d) <= today
    }


def _grade(rng):
    return Grade.EXCELLENT if rng.random() < 0.16 else Grade.QUALIFIED


def _votes(rng, grade, returned):
    """A plausible tally for the grade: most voters agree with the branch's later grade."""
    share = {Grade.EXCELLENT: (0.55, 0.9), Grade.QUALIFIED: (0.7, 0.95), Grade.BASIC: (0.35, 0.6),
             Grade.UNQUALIFIED: (0.5, 0.7)}[grade]  # fmt: skip
    main = round(returned * rng.uniform(*share))
    rest = returned - main - rng.randint(0, 1 if returned > main else 0)
    votes = dict.fromkeys(Grade.values, 0)
    votes[grade] = main
    other = Grade.QUALIFIED if grade != Grade.QUALIFIED else Grade.EXCELLENT
    votes[other] = max(rest, 0)
    return votes


def _fill(rng, participants, returned, *, grades=True, low=None):
    for p in participants:
        if p.exempt_reason:
            continue
        grade = (low or {}).get(p.member_id) or _grade(rng)
        votes = _votes(rng, grade, returned)
        p.votes_excellent, p.votes_qualified = votes[Grade.EXCELLENT], votes[Grade.QUALIFIED]
        p.votes_basic, p.votes_unqualified = votes[Grade.BASIC], votes[Grade.UNQUALIFIED]
        p.self_assessment = rng.choice(SELF_ASSESSMENTS)
        if grades:
            p.grade = grade
            p.grade_reason = rng.choice(LOW_REASONS[grade]) if grade in LOW_REASONS else ""


def _campaign(branch, year, start, today, **extra):
    return Campaign(branch=branch, year=year, campaign_on=start, submit_token=uuid.uuid4().hex,
                    **_steps(start, today), **extra)  # fmt: skip


@transaction.atomic
def seed(*, root, seed=2026, today):
    rng = random.Random(seed + 18)
    branches = list(
        Organisation.objects.get_tree(root).filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True)
    )
    if Campaign.objects.filter(branch__in=branches).exists():
        return {"campaigns": 0}
    last_year = today.year - 1
    org_life = {
        m.branch_id: m
        for m in Meeting.objects.filter(
            branch__in=branches,
            for_year=last_year,
            voided_at__isnull=True,
            types__type=MeetingType.ORG_LIFE_MEETING,
        )
    }
    names = dict(Member.objects.filter(branch__in=branches).values_list("pk", "name"))
    created, participants, low_rows = [], [], []
    returned_one = False
    unqualified_left = 1
    for index, branch in enumerate(branches):
        if branch.name in NEVER_HELD or branch.founded_on > date(last_year, 11, 1):
            continue
        meeting = org_life.get(branch.pk)
        start = meeting.held_on - timedelta(days=15) if meeting else date(last_year, 11, rng.randint(10, 25))
        campaign = _campaign(branch, last_year, start, today, org_life_meeting=meeting)
        if meeting:
            campaign.vote_on = campaign.assessment_on = meeting.held_on
        rows = participant_snapshot(branch=branch, on=start)
        graded = [p for p in rows if not p.exempt_reason]
        if not graded:
            continue
        campaign.ballots_issued = len(graded)
        campaign.ballots_returned = len(graded) - rng.randint(0, min(2, len(graded) - 1))
        low = {}
        # Committee members are not the ones graded low in a demo.
        holders = set(
            CommitteePosition.objects.filter(term__organisation=branch).values_list("holder_name", flat=True)
        )
        candidates = [
            p.member_id for p in graded if p.member_id not in holders and names[p.member_id] not in holders
        ]
        if len(candidates) >= 12 and (branch.name == SHOWCASE or rng.random() < 0.2):
            picked = rng.sample(candidates, 2)
            low[picked[0]] = Grade.BASIC
            if unqualified_left and branch.name != SHOWCASE:
                low[picked[1]] = Grade.UNQUALIFIED
                unqualified_left -= 1
        _fill(rng, rows, campaign.ballots_returned, low=low)
        campaign.closed_on = min(campaign.assessment_on or start, today)
        if not returned_one and index % 7 == 3 and branch.name != SHOWCASE:
            campaign.status = CampaignStatus.RETURNED
            campaign.review_comment = "部分党员的评定理由未填写具体事实，请补充后重新上报。"
            returned_one = True
        elif rng.random() < 0.75 or branch.name == SHOWCASE:
            campaign.status = CampaignStatus.REPORTED
            campaign.reported_on = min(start + timedelta(days=26), today)
        else:
            campaign.status = CampaignStatus.CLOSED
        created.append(campaign)
        participants.append((campaign, rows))
        low_rows.extend((campaign, p) for p in rows if p.grade in (Grade.BASIC, Grade.UNQUALIFIED))

    # This year: under way in about a third of the branches, the secretary's branch among them.
    for branch in branches:
        if not (branch.name == SHOWCASE or rng.random() < 0.3):
            continue
        back = 18 if branch.name == SHOWCASE else rng.randint(8, 20)
        start = max(date(today.year, 1, 2), today - timedelta(days=back))
        if start < branch.founded_on:
            continue
        campaign = _campaign(branch, today.year, start, today)
        # Under way: the branch has not graded yet, so no 评定 or 公示 dates.
        campaign.assessment_on = campaign.publicity_start_on = campaign.publicity_end_on = None
        rows = participant_snapshot(branch=branch, on=start)
        graded = [p for p in rows if not p.exempt_reason]
        if not graded:
            continue
        if campaign.vote_on:  # the ballots are counted; the branch has not graded yet
            campaign.status = CampaignStatus.IN_PROGRESS
            campaign.ballots_issued = len(graded)
            campaign.ballots_returned = len(graded) - rng.randint(0, min(1, len(graded) - 1))
            _fill(rng, rows, campaign.ballots_returned, grades=False)
        created.append(campaign)
        participants.append((campaign, rows))

    for campaign in created:
        campaign.save()
    all_rows = []
    for campaign, rows in participants:
        for p in rows:
            p.campaign = campaign
        all_rows.extend(rows)
    bulk_create_with_history(all_rows, Participant, batch_size=500)
    followups = _followups(rng, low_rows, today)
    return {"campaigns": len(created), "followups": len(followups)}


def _followups(rng, low_rows, today):
    """Rectification for low grades: most done, one overdue; the last low grade has nothing yet."""
    followups = []
    for i, (campaign, p) in enumerate(low_rows[:-1] if len(low_rows) > 2 else low_rows):
        proposed = min(campaign.closed_on + timedelta(days=7), today)
        f = FollowUp(participant=p, kind=FollowUpKind.RECTIFY, proposed_on=proposed,
                     deadline_on=proposed + timedelta(days=90), note="支委会研究，由书记谈话提醒")  # fmt: skip
        if i == 0 or p.grade == Grade.UNQUALIFIED:
            f.note = "限期三个月改正，逾期未改的提交支部党员大会讨论"
        elif f.deadline_on <= today:
            f.closed_on = f.deadline_on - timedelta(days=rng.randint(3, 20))
            f.outcome = "经教育已改正，按时参加组织生活"
        followups.append(f)
    return bulk_create_with_history(followups, FollowUp) if followups else []


@transaction.atomic
def reset(*, root):
    """Remove the demo township's campaigns (development only)."""
    campaigns = Campaign.objects.filter(branch__path__startswith=root.path)
    FollowUp.objects.filter(participant__campaign__in=campaigns).delete()
    Participant.objects.filter(campaign__in=campaigns).delete()
    campaigns.delete()
