"""民主评议党员: participants as of the campaign date, tally validation, closing, follow-ups, overview."""

import uuid
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches.models import Role
from evaluations import selectors, services
from evaluations.models import Campaign, CampaignStatus, FollowUp, Participant
from meetings import services as meeting_services
from members import services as member_services
from members.idcard import check_character
from members.models import ExemptionKind, Status
from tests.conftest import make_campaign, make_meeting, make_member, make_org, make_user

CAMPAIGN_ON = date(2026, 11, 25)


def id_number(serial, birth="19800722"):
    body = f"320102{birth}{serial:03d}"
    return body + check_character(body)


@pytest.fixture
def people(tree):
    return [
        make_member(tree.a1, tree.g1 if i < 3 else tree.g2, id_number(i), name=f"党员{i}") for i in range(4)
    ]


def open_campaign(branch, **extra):
    return services.open_campaign(
        branch=branch, year=extra.pop("year", 2026), campaign_on=extra.pop("campaign_on", CAMPAIGN_ON),
        token=extra.pop("token", uuid.uuid4().hex), **extra,
    )  # fmt: skip


def with_step_dates(campaign, **dates):
    """The 民主测评 and 组织评定 dates closing needs (and any other step dates given)."""
    steps = {"vote_on": date(2026, 11, 26), "assessment_on": date(2026, 11, 27), **dates}
    return services.update_campaign(campaign=campaign, campaign_on=campaign.campaign_on, **steps)


PUBLICITY = {"publicity_start_on": date(2026, 11, 28), "publicity_end_on": date(2026, 11, 29)}


def rows_for(campaign, overrides=None, *, grade="qualified", votes=None):
    """Result rows for every participant not exempt; overrides is {member_id: row values}."""
    rows = {}
    for p in campaign.participants.filter(exempt_reason=""):
        rows[p.pk] = {"votes_qualified": 8, "grade": grade, "grade_reason": "", **(votes or {})}
        rows[p.pk].update((overrides or {}).get(p.member_id, {}))
    return rows


# ---------------------------------------------------------------- participants


def test_participants_are_the_roster_on_the_campaign_date(tree, people):
    make_member(tree.a1, None, id_number(10), name="预备甲", category="probationary",
                               joined_on=date(2026, 3, 1))  # fmt: skip
    activist = make_member(tree.a1, None, id_number(11), name="积极分子", category="activist",
                           applied_on=date(2025, 1, 5), activist_on=date(2025, 4, 1))  # fmt: skip
    frail = make_member(tree.a1, None, id_number(12), name="老党员")
    member_services.record_exemption(member=frail, kind=ExemptionKind.FRAIL, started_on=date(2026, 1, 1),
                                     approved_on=date(2025, 12, 20))  # fmt: skip
    away = make_member(tree.a1, None, id_number(13), name="外出者")
    member_services.start_mobility(member=away, destination="苏州", started_on=date(2026, 10, 1))
    gone = make_member(tree.a1, None, id_number(14), name="已转出")
    member_services.transfer_out(member=gone, on=date(2026, 11, 1), counterpart="某街道党工委")
    suspended = make_member(tree.a1, None, id_number(15), name="停止党籍者")
    member_services.change_status(
        member=suspended, status=Status.SUSPENDED, on=date(2026, 6, 1), reason="失联"
    )
    late = make_member(tree.a1, None, id_number(16), name="后转入", started_on=date(2026, 11, 28))
    make_member(tree.a2, None, id_number(17), name="别的支部")

    campaign = open_campaign(tree.a1)

    listed = {p.member.name: p for p in campaign.participants.select_related("member")}
    assert set(listed) == {*(p.name for p in people), "预备甲", "老党员", "外出者"}
    assert listed["预备甲"].category == "probationary"
    assert listed["外出者"].away and not listed["外出者"].is_exempt
    assert listed["老党员"].exempt_reason == "免于参加组织生活（年老体弱）"
    assert not {activist.name, gone.name, suspended.name, late.name} & set(listed)
    assert campaign.status == CampaignStatus.DRAFT


def test_a_draft_takes_the_list_again_when_its_date_moves_but_not_once_results_exist(tree, people):
    late = make_member(tree.a1, None, id_number(20), name="后转入", started_on=date(2026, 11, 28))
    campaign = open_campaign(tree.a1)
    assert not campaign.participants.filter(member=late).exists()
    services.update_campaign(campaign=campaign, campaign_on=date(2026, 11, 29))
    assert campaign.participants.filter(member=late).exists()
    services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows_for(campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.IN_PROGRESS
    with pytest.raises(ValidationError, match="参评名单日期不能再改"):
        services.update_campaign(campaign=campaign, campaign_on=CAMPAIGN_ON)


def test_one_campaign_per_branch_and_year_and_a_replay_returns_the_first(tree, people):
    first = open_campaign(tree.a1, token="t-1")
    assert open_campaign(tree.a1, token="t-1") == first
    with pytest.raises(ValidationError, match="已经开启"):
        open_campaign(tree.a1)
    assert open_campaign(tree.a1, year=2025, campaign_on=date(2026, 1, 10)).year == 2025
    services.void_campaign(campaign=first, reason="日期选错")
    assert open_campaign(tree.a1).pk != first.pk
    assert Campaign.objects.filter(branch=tree.a1, year=2026).count() == 2


def test_campaign_dates_are_checked(tree, people):
    with pytest.raises(ValidationError, match="2026年或2027年"):
        open_campaign(tree.a1, campaign_on=date(2025, 12, 1))
    with pytest.raises(ValidationError, match="不能晚于今年"):
        open_campaign(tree.a1, year=2099, campaign_on=date(2026, 1, 1))
    campaign = open_campaign(tree.a1)
    with pytest.raises(ValidationError, match="民主测评日期不能早于自我评价日期"):
        services.update_campaign(campaign=campaign, campaign_on=CAMPAIGN_ON,
                                 self_assessment_on=date(2026, 11, 28), vote_on=date(2026, 11, 27))  # fmt: skip


# ---------------------------------------------------------------- tally and grades


def test_a_tally_with_one_bad_row_saves_nothing(tree, people):
    campaign = open_campaign(tree.a1)
    rows = rows_for(campaign, {people[1].pk: {"votes_qualified": 8, "votes_excellent": 2},
                                 people[2].pk: {"grade": "unqualified"}})  # fmt: skip
    with pytest.raises(services.RowErrors) as caught:
        services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows)
    by_member = {
        Participant.objects.get(pk=pk).member_id: problems for pk, problems in caught.value.row_errors.items()
    }
    assert by_member == {
        people[1].pk: ["各等次票数合计10票，超过收回测评票9张。"],
        people[2].pk: ["评定为基本合格或不合格的，须写明理由。"],
    }
    assert not Participant.objects.filter(campaign=campaign).exclude(grade="").exists()
    campaign.refresh_from_db()
    assert (campaign.status, campaign.ballots_issued) == (CampaignStatus.DRAFT, None)


def test_more_ballots_returned_than_issued_is_refused(tree, people):
    campaign = open_campaign(tree.a1)
    with pytest.raises(services.RowErrors, match="不能多于"):
        services.save_results(
            campaign=campaign, ballots_issued=8, ballots_returned=9, rows=rows_for(campaign)
        )


def test_results_keep_their_history(tree, people):
    campaign = open_campaign(tree.a1)
    services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows_for(campaign))
    services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9,
                          rows=rows_for(campaign, {people[0].pk: {"grade": "excellent"}}))  # fmt: skip
    participant = campaign.participants.get(member=people[0])
    assert [h.grade for h in participant.history.order_by("history_date")] == ["", "qualified", "excellent"]
    # Unchanged rows are not written again.
    assert campaign.participants.get(member=people[1]).history.count() == 2


def test_results_page_marks_the_bad_row_and_saves_nothing(client, personas, tree, people):
    campaign = with_step_dates(open_campaign(tree.a1))
    client.force_login(personas[Role.SECRETARY])
    url = reverse("reviews:results", args=[campaign.pk])
    page = client.get(url)
    assert page.status_code == 200
    participants = page.context["rows"]
    data = {"form-TOTAL_FORMS": len(participants), "form-INITIAL_FORMS": len(participants),
            "ballots_issued": "10", "ballots_returned": "9"}  # fmt: skip
    for i, (_form, p) in enumerate(participants):
        data.update(
            {f"form-{i}-participant": p.pk, f"form-{i}-votes_qualified": "9", f"form-{i}-grade": "qualified"}
        )
    data["form-2-votes_basic"] = "3"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "各等次票数合计12票，超过收回测评票9张。" in response.content.decode()
    assert [bool(form.errors) for form, _p in response.context["rows"]] == [False, False, True, False]
    assert not Participant.objects.filter(campaign=campaign).exclude(grade="").exists()

    data["form-2-votes_basic"] = "0"
    data["close"] = "1"
    response = client.post(url, data)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED
    assert campaign.ballots_returned == 9
    assert set(campaign.participants.values_list("grade", flat=True)) == {"qualified"}


# ---------------------------------------------------------------- closing, reporting, returning


def test_closing_needs_a_grade_for_every_participant_but_not_for_exempt_members(tree, people):
    frail = make_member(tree.a1, None, id_number(30), name="老党员")
    member_services.record_exemption(member=frail, kind=ExemptionKind.FRAIL, started_on=date(2026, 1, 1),
                                     approved_on=date(2025, 12, 20))  # fmt: skip
    campaign = with_step_dates(open_campaign(tree.a1))
    rows = rows_for(campaign, {people[3].pk: {"grade": ""}})
    services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows)
    with pytest.raises(ValidationError, match="党员3"):
        services.close_campaign(campaign=campaign)
    assert selectors.closed_review_years([tree.a1.pk]) == set()
    services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows_for(campaign))
    services.close_campaign(campaign=campaign, closed_on=date(2026, 11, 28))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.closed_on) == (CampaignStatus.CLOSED, date(2026, 11, 28))
    assert selectors.closed_review_years([tree.a1.pk]) == {(tree.a1.pk, 2026)}
    assert services.close_campaign(campaign=campaign).status == CampaignStatus.CLOSED  # a replay
    with pytest.raises(ValidationError, match="已完成"):
        services.save_results(
            campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows_for(campaign)
        )


def test_closing_needs_the_ballot_counts(tree, people):
    campaign = open_campaign(tree.a1)
    services.save_results(campaign=campaign, ballots_issued=None, ballots_returned=None,
                          rows=rows_for(campaign, votes={"votes_qualified": 0}))  # fmt: skip
    with pytest.raises(ValidationError, match="测评票数"):
        services.close_campaign(campaign=campaign)


def test_returned_campaign_does_not_count_until_reopened_and_closed_again(tree, people):
    campaign = make_campaign(tree.a1, grades={}, close=True)
    with pytest.raises(ValidationError, match="写明"):
        services.return_campaign(campaign=campaign, comment=" ")
    services.return_campaign(campaign=campaign, comment="评定理由过于简单")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RETURNED
    assert selectors.closed_review_years() == set()
    with pytest.raises(ValidationError, match="重新开启"):
        services.save_results(
            campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows_for(campaign)
        )
    services.reopen_campaign(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.IN_PROGRESS
    services.close_campaign(campaign=campaign, closed_on=date(2026, 11, 29))
    services.report_campaign(campaign=campaign, reported_on=date(2026, 11, 30), **PUBLICITY)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.reported_on) == (CampaignStatus.REPORTED, date(2026, 11, 30))
    assert selectors.closed_review_years() == {(tree.a1.pk, 2026)}
    statuses = [h.status for h in campaign.history.order_by("history_date")]
    assert statuses[-4:] == ["returned", "in_progress", "closed", "reported"]


def test_only_a_closed_campaign_is_reported_and_not_before_it_closed(tree, people):
    campaign = make_campaign(tree.a1, grades={})
    with pytest.raises(ValidationError, match="已完成"):
        services.report_campaign(campaign=campaign, reported_on=date(2026, 11, 30), **PUBLICITY)
    services.close_campaign(campaign=campaign, closed_on=date(2026, 11, 28))
    with pytest.raises(ValidationError, match="不能早于"):
        services.report_campaign(campaign=campaign, reported_on=date(2026, 11, 27), **PUBLICITY)


def test_township_office_returns_and_the_secretary_sees_why(client, personas, tree, people):
    campaign = make_campaign(tree.a1, grades={}, close=True)
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.post(reverse("reviews:return", args=[campaign.pk]), {"comment": "请补充自我评价"})
    assert response.status_code == 302
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert "请补充自我评价" in page and "重新开启修改" in page
    client.post(reverse("reviews:reopen", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.IN_PROGRESS


def test_year_lock_stops_changes(tree, people):
    campaign = open_campaign(tree.a1)
    meeting_services.set_year_lock(branch=tree.a1, year=2026, locked=True)
    with pytest.raises(ValidationError, match="已锁定"):
        services.save_results(
            campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows_for(campaign)
        )


# ---------------------------------------------------------------- 组织生活会 link


def test_link_only_to_this_branchs_org_life_meeting_of_the_year(tree, people):
    campaign = open_campaign(tree.a1)
    own = make_meeting(
        tree.a1, None, people, types=("org_life_meeting",), held_on=date(2026, 11, 20), for_year=2026
    )
    last_year = make_meeting(tree.a1, None, people, types=("org_life_meeting",), held_on=date(2026, 1, 20),
                             for_year=2025)  # fmt: skip
    theme_day = make_meeting(tree.a1, None, people, types=("theme_day",), held_on=date(2026, 10, 30))
    make_member(tree.a2, None, id_number(40), name="甲村党员")
    elsewhere = make_meeting(
        tree.a2, None, [], types=("org_life_meeting",), held_on=date(2026, 11, 20), for_year=2026
    )
    for wrong in (last_year, theme_day, elsewhere):
        with pytest.raises(ValidationError, match="组织生活会"):
            services.update_campaign(campaign=campaign, campaign_on=CAMPAIGN_ON, org_life_meeting=wrong)
    services.update_campaign(campaign=campaign, campaign_on=CAMPAIGN_ON, org_life_meeting=own)
    assert Campaign.objects.get(pk=campaign.pk).org_life_meeting == own


# ---------------------------------------------------------------- follow-ups


def test_follow_ups_for_low_grades_raise_flags_until_closed(tree, people):
    campaign = make_campaign(tree.a1, grades={people[0]: ("unqualified", "长期不参加组织生活"),
                                              people[1]: ("basic", "作用发挥不明显")}, close=True)  # fmt: skip
    p0 = campaign.participants.get(member=people[0])
    p1 = campaign.participants.get(member=people[1])
    p2 = campaign.participants.get(member=people[2])
    as_of = date(2026, 11, 30)
    # Low grades with nothing recorded yet.
    assert {(i.member_id, i.state) for i in selectors.open_followups([tree.a1.pk], as_of=as_of)} == {
        (people[0].pk, "missing"), (people[1].pk, "missing"),
    }  # fmt: skip
    with pytest.raises(ValidationError, match="基本合格或不合格"):
        services.add_followup(participant=p2, kind="rectify", proposed_on=as_of, deadline_on=date(2027, 3, 1))
    with pytest.raises(ValidationError, match="劝退、除名只适用于"):
        services.add_followup(participant=p1, kind="persuade", proposed_on=as_of)
    with pytest.raises(ValidationError, match="改正期限"):
        services.add_followup(participant=p1, kind="rectify", proposed_on=as_of)
    rectify = services.add_followup(participant=p1, kind="rectify", proposed_on=date(2026, 11, 26),
                                    deadline_on=date(2026, 11, 28))  # fmt: skip
    assert services.add_followup(participant=p1, kind="rectify", proposed_on=date(2026, 11, 26),
                                 deadline_on=date(2026, 11, 28)) == rectify  # a replay  # fmt: skip
    services.add_followup(participant=p0, kind="persuade", proposed_on=date(2026, 11, 26), note="支委会研究")
    items = {i.member_id: i for i in selectors.open_followups([tree.a1.pk], as_of=as_of)}
    assert (items[people[1].pk].state, items[people[0].pk].state) == ("overdue", "open")
    assert "限期改正未办结" in items[people[1].pk].message
    assert selectors.open_followups([tree.a1.pk], as_of=date(2026, 11, 27))[0].state == "open"
    assert selectors.open_followups([tree.a2.pk], as_of=as_of) == []

    services.close_followup(followup=rectify, closed_on=date(2026, 11, 29), outcome="经教育已改正")
    assert {i.member_id for i in selectors.open_followups([tree.a1.pk], as_of=as_of)} == {people[0].pk}
    assert FollowUp.objects.get(pk=rectify.pk).history.count() == 2


def test_results_rows_for_the_ledger(tree, people):
    campaign = make_campaign(tree.a1, grades={people[1]: ("basic", "作用发挥不明显")}, close=True)
    p1 = campaign.participants.get(member=people[1])
    services.add_followup(participant=p1, kind="rectify", proposed_on=date(2026, 11, 26),
                          deadline_on=date(2027, 2, 1))  # fmt: skip
    rows = {row["name"]: row for row in selectors.results_rows(campaign)}
    assert len(rows) == 4
    assert rows["党员1"] == {
        "member_id": people[1].pk, "name": "党员1", "category": "正式党员", "away": "", "votes_excellent": 0, "votes_qualified": 9,
        "votes_basic": 0, "votes_unqualified": 0, "votes_total": 9, "grade": "基本合格",
        "grade_reason": "作用发挥不明显", "exempt_reason": "",
        "followup": "限期改正（2026-11-26提出，期限2027-02-01）未办结",
    }  # fmt: skip
    assert rows["党员0"]["grade"] == "合格"


# ---------------------------------------------------------------- township overview and query counts


def test_township_overview_counts_status_and_grades(client, personas, tree, people):
    make_campaign(
        tree.a1, grades={people[0]: ("excellent", ""), people[1]: ("basic", "学习不够")}, close=True
    )
    make_member(tree.b1, None, id_number(50), name="乙镇党员")
    make_campaign(tree.b1, grades={}, close=True)  # another township: not counted
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    summary = client.get(reverse("reviews:overview"), {"year": 2026}).context["summary"]
    assert (summary["total"], summary["not_opened"], summary["done"]) == (2, 1, 1)
    assert {code: n for _label, code, n in summary["grades"]} == {
        "excellent": 1, "qualified": 2, "basic": 1, "unqualified": 0,
    }  # fmt: skip
    client.force_login(personas[Role.INSTRUCTOR])
    rows = client.get(reverse("reviews:overview"), {"year": 2026}).context["rows"]
    assert [(branch.name, campaign.n_basic) for branch, campaign, _may in rows] == [("甲社区第一党支部", 1)]


def _overview_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("reviews:overview"), {"year": 2026}).status_code == 200
    return len(queries)


def test_overview_query_count_does_not_grow_with_branches(client, personas, tree, people):
    make_campaign(tree.a1, grades={}, close=True)
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    few = _overview_queries(client)
    for i in range(6):
        branch = make_org(tree.township, f"新建第{i}党支部")
        make_member(branch, None, id_number(60 + i), name=f"新党员{i}")
        make_campaign(branch, grades={}, close=i % 2 == 0)
    assert _overview_queries(client) == few


def _detail_queries(client, campaign):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("reviews:detail", args=[campaign.pk])).status_code == 200
    return len(queries)


def test_detail_and_results_query_counts_do_not_grow_with_participants(client, personas, tree, people):
    campaign = make_campaign(tree.a1, grades={people[0]: ("basic", "不够积极")})
    services.add_followup(participant=campaign.participants.get(member=people[0]), kind="rectify",
                          proposed_on=date(2026, 11, 26), deadline_on=date(2027, 2, 1))  # fmt: skip
    client.force_login(personas[Role.SECRETARY])
    client.get(reverse("reviews:detail", args=[campaign.pk]))  # warm: the nav badge is counted once
    few = _detail_queries(client, campaign)
    with CaptureQueriesContext(connection) as results_few:
        client.get(reverse("reviews:results", args=[campaign.pk]))
    more = [make_member(tree.a1, None, id_number(70 + i), name=f"另一党员{i}") for i in range(8)]
    bigger = make_campaign(tree.a1, year=2025, campaign_on=date(2026, 1, 10),
                           grades={more[0]: ("basic", "不够积极"), more[1]: ("unqualified", "长期失联")})  # fmt: skip
    for member in more[:2]:
        services.add_followup(participant=bigger.participants.get(member=member), kind="rectify",
                              proposed_on=date(2026, 1, 12), deadline_on=date(2026, 6, 1))  # fmt: skip
    assert bigger.participants.count() > campaign.participants.count()
    client.get(
        reverse("reviews:detail", args=[bigger.pk])
    )  # the nav badge is counted again once flags change
    assert _detail_queries(client, bigger) == few
    with CaptureQueriesContext(connection) as results_more:
        client.get(reverse("reviews:results", args=[bigger.pk]))
    assert len(results_more) == len(results_few)


def test_group_leader_and_member_do_not_see_campaigns(client, personas, tree, people):
    campaign = make_campaign(tree.a1, grades={})
    for role in (Role.GROUP_LEADER, Role.MEMBER):
        client.force_login(personas[role])
        assert client.get(reverse("reviews:detail", args=[campaign.pk])).status_code == 404
        assert client.get(reverse("reviews:overview")).context["rows"] == []


def test_branch_page_links_to_the_reviews(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("branches:detail", args=[tree.a1.pk])).content.decode()
    assert reverse("reviews:branch", args=[tree.a1.pk]) in page


def test_a_second_user_cannot_open_the_same_year(tree, people):
    user = make_user("另一书记", Role.SECRETARY, tree.a1)
    open_campaign(tree.a1)
    with pytest.raises(ValidationError, match="已经开启"):
        open_campaign(tree.a1, user=user)
