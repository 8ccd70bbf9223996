"""The organisation tree, terms, 民主评议, 谈心谈话, local rules and ledger exports with hostile input."""

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from branches.models import Organisation, Role
from compliance.models import RuleSetting
from evaluations.models import Campaign
from tests.conftest import make_campaign
from tests.security.conftest import UNSAFE_TEXT, assert_refused, assert_shown_escaped, row_counts

# ---------------------------------------------------------------- organisations (the township office)


def org_data(**overrides):
    data = {"name": "新设党支部", "level": "branch", "kind": "community", "founded_on": "2020-01-01"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": UNSAFE_TEXT["nul"]}, "name"),
        ({"name": UNSAFE_TEXT["bell"]}, "name"),
        ({"name": UNSAFE_TEXT["noncharacter"]}, "name"),
        ({"name": "支" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"level": "group"}, "level"),  # a 党小组 cannot sit under a 党委
        ({"level": "'; DROP TABLE branches_organisation; --"}, "level"),
        ({"kind": "nation"}, "kind"),
        ({"founded_on": "2026-02-30"}, "founded_on"),
        ({"founded_on": "abc"}, "founded_on"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_a_bad_organisation_is_not_created(office, tree, overrides, field):
    before = row_counts()
    response = office.post(reverse("branches:create", args=[tree.community.pk]), org_data(**overrides))
    assert_refused(response, before, field=field)


def test_markup_in_an_organisation_name_is_escaped_everywhere_it_is_listed(office, tree):
    name = "<script>alert('支部')</script>党支部"
    response = office.post(reverse("branches:create", args=[tree.community.pk]), org_data(name=name))
    assert response.status_code == 302
    created = Organisation.objects.get(name=name)
    for url in (reverse("branches:tree"), reverse("branches:detail", args=[created.pk]),
                reverse("meetings:list"), reverse("compliance:flags"), reverse("members:list")):  # fmt: skip
        assert_shown_escaped(office.get(url).content.decode(), name)


def test_an_organisation_name_cannot_break_out_of_the_dashboard_chart_data(office, tree):
    name = "</script><script>alert(1)</script>支部"
    office.post(reverse("branches:create", args=[tree.township.pk]), org_data(name=name))
    html = office.get(reverse("dashboards:township"), {"org": tree.township.pk}).content.decode()
    assert "</script><script>alert(1)" not in html


@pytest.mark.parametrize("reason", [UNSAFE_TEXT["nul"], "因" * 201, ""], ids=["nul", "long", "blank"])
def test_a_bad_dissolve_reason_leaves_the_branch_active(office, tree, reason):
    before = row_counts()
    url = reverse("branches:dissolve", args=[tree.a2.pk])
    response = office.post(url, {"dissolved_on": "2026-01-01", "reason": reason})
    assert_refused(response, before, field="reason")
    tree.a2.refresh_from_db()
    assert tree.a2.dissolved_on is None


@pytest.mark.parametrize("dissolved_on", ["0001-01-01", "9999-12-31", "2009-12-31"])
def test_a_dissolve_date_out_of_range_is_refused(office, tree, dissolved_on):
    before = row_counts()
    url = reverse("branches:dissolve", args=[tree.a2.pk])
    response = office.post(url, {"dissolved_on": dissolved_on, "reason": "合并"})
    assert_refused(response, before)
    tree.a2.refresh_from_db()
    assert tree.a2.dissolved_on is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"elected_on": "2025-01-01", "pos_secretary": "书\x00记"}, "pos_secretary"),
        ({"elected_on": "2025-01-01", "pos_secretary": "名" * 51}, "pos_secretary"),
        ({"elected_on": "2025-01-01", "pos_secretary": "张三", "note": "\x1b"}, "note"),
        ({"elected_on": "2025-01-01"}, None),  # nobody elected
        ({"elected_on": "0001-01-01", "pos_secretary": "张三"}, None),
        ({"elected_on": "9999-12-31", "pos_secretary": "张三"}, None),
        ({"elected_on": "2025-01-01", "ends_on": "2024-01-01", "pos_secretary": "张三"}, None),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_a_bad_term_is_not_recorded(office, tree, data, field):
    before = row_counts()
    response = office.post(reverse("branches:term_create", args=[tree.a2.pk]), data)
    assert_refused(response, before, field=field)


def test_markup_in_a_committee_name_is_escaped(office, tree):
    holder = "<img src=x onerror=alert(1)>"
    response = office.post(
        reverse("branches:term_create", args=[tree.a2.pk]),
        {"elected_on": "2025-01-01", "pos_secretary": holder},
    )
    assert response.status_code == 302
    assert_shown_escaped(office.get(reverse("branches:detail", args=[tree.a2.pk])).content.decode(), holder)


# ---------------------------------------------------------------- 民主评议


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"year": "二〇二六", "campaign_on": "2026-11-25"}, "year"),
        ({"year": "99999", "campaign_on": "2026-11-25"}, "year"),
        ({"year": "2026", "campaign_on": "9999-12-31"}, None),
        ({"year": "2026", "campaign_on": "0001-01-01"}, None),
        ({"year": "2026", "campaign_on": "2026-11-25", "token": "t" * 65}, "token"),
        ({"year": "2026", "campaign_on": "2026-11-25", "token": ""}, "token"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_a_bad_campaign_is_not_opened(secretary, branch, data, field):
    before = row_counts()
    data = {"token": uuid.uuid4().hex, **data}
    response = secretary.post(reverse("reviews:open", args=[branch.pk]), data)
    assert_refused(response, before, field=field)


@pytest.fixture
def campaign(branch):
    return make_campaign(branch, year=2026, campaign_on=__import__("datetime").date(2026, 11, 25))


def results_data(campaign, **row_overrides):
    participants = list(campaign.participants.filter(exempt_reason="").order_by("member__name_initials",
                                                                                "member__name", "pk"))  # fmt: skip
    data = {"ballots_issued": "4", "ballots_returned": "4", "form-TOTAL_FORMS": str(len(participants)),
            "form-INITIAL_FORMS": str(len(participants))}  # fmt: skip
    for i, p in enumerate(participants):
        data.update(
            {f"form-{i}-participant": p.pk, f"form-{i}-votes_qualified": "4", f"form-{i}-grade": "qualified"}
        )
        if i == 0:
            data.update({f"form-{i}-{k}": v for k, v in row_overrides.items()})
    return data


@pytest.mark.parametrize(
    "overrides",
    [
        {"ballots_issued": "99999999999999999999"},
        {"ballots_issued": "3", "ballots_returned": "4"},
        {"ballots_issued": "-1"},
        {"ballots_issued": "四"},
        {"form-TOTAL_FORMS": "100000"},
        {"form-TOTAL_FORMS": "x"},
        {"form-0-participant": "999999999"},
        {"form-0-votes_qualified": "99999999999999999999"},
        {"form-0-votes_qualified": "5"},  # more than returned
        {"form-0-grade": "superb"},
        {"form-0-grade": "unqualified", "form-0-grade_reason": ""},
        {"form-0-grade_reason": "理" * 301},
        {"form-0-self_assessment": "自我评价\x00"},
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_results_save_nothing(secretary, campaign, overrides):
    before = row_counts()
    data = results_data(campaign)
    data.update(overrides)
    response = secretary.post(reverse("reviews:results", args=[campaign.pk]), data)
    assert_refused(response, before)
    campaign.refresh_from_db()
    assert campaign.ballots_issued is None
    assert not campaign.participants.exclude(grade="").exists()


def test_markup_in_a_self_assessment_is_escaped(secretary, campaign):
    text = "<script>alert('自评')</script>"
    data = results_data(campaign, self_assessment=text, grade_reason="<b>理由</b>")
    response = secretary.post(reverse("reviews:results", args=[campaign.pk]), data)
    assert response.status_code == 302
    page = secretary.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert_shown_escaped(page, "<b>理由</b>")
    assert_shown_escaped(secretary.get(reverse("reviews:results", args=[campaign.pk])).content.decode(), text)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"campaign_on": "2026-11-25", "note": "\x00"}, "note"),
        ({"campaign_on": "2026-11-25", "note": "备" * 301}, "note"),
        ({"campaign_on": "9999-12-31"}, None),
        ({"campaign_on": "2026-11-25", "org_life_meeting": "1 OR 1=1"}, "org_life_meeting"),
        ({"campaign_on": "2026-11-25", "vote_on": "2026-02-30"}, "vote_on"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_a_bad_campaign_edit_changes_nothing(secretary, campaign, data, field):
    before = row_counts()
    history = campaign.history.count()
    response = secretary.post(reverse("reviews:edit", args=[campaign.pk]), data)
    assert_refused(response, before, field=field)
    assert campaign.history.count() == history


# ---------------------------------------------------------------- 谈心谈话


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"t0-topic": "谈\x00话"}, "topic"),
        ({"t0-topic": "谈" * 201}, "topic"),
        ({"t0-initiator": "abc"}, "initiator"),
        ({"t0-counterpart": "99999999999"}, "counterpart"),
        ({"talked_on": "9999-12-31"}, None),
        ({"talked_on": "0001-01-01"}, None),
        ({"talked_on": "2026-02-30"}, "talked_on"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_bad_talks_record_nothing(secretary, branch, overrides, field):
    before = row_counts()
    data = {"talked_on": "2026-06-01", "t0-initiator": branch.people[0].pk,
            "t0-counterpart": branch.people[1].pk, "t0-topic": "谈工作"}  # fmt: skip
    data.update(overrides)
    response = secretary.post(reverse("meetings:talks", args=[branch.pk]), data)
    assert_refused(response, before, field=field)


def test_a_talk_with_a_member_of_another_branch_is_refused(secretary, branch, tree):
    from tests.conftest import make_member
    from tests.security.conftest import idn

    stranger = make_member(tree.b1, None, idn(300), name="外镇党员")
    before = row_counts()
    data = {"talked_on": "2026-06-01", "t0-initiator": branch.people[0].pk, "t0-counterpart": stranger.pk}
    response = secretary.post(reverse("meetings:talks", args=[branch.pk]), data)
    assert_refused(response, before, field="counterpart")


# ---------------------------------------------------------------- local rules and exports


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"count": "99999"}, "count"),
        ({"count": "0"}, "count"),
        ({"count": "三"}, "count"),
        ({"rule": "'; DROP TABLE compliance_flag; --"}, "rule"),
        ({"period_kind": "fortnight"}, "period_kind"),
        ({"organisation": "-1"}, "organisation"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, str) else v,
)
def test_a_bad_local_rule_is_not_saved(office, tree, overrides, field):
    before = row_counts()
    data = {"organisation": tree.township.pk, "rule": "theme_day", "enabled": "1", "count": "1",
            "period_kind": "", "effective_from": "2026-01-01"}  # fmt: skip
    data.update(overrides)
    response = office.post(reverse("compliance:settings"), data)
    assert_refused(response, before, field=field)


def test_a_local_rule_from_a_far_future_date_is_refused(office, tree):
    # (Once stored as typed: 9999-12-31 stood on the list as a rule announced ahead, and could not be undone.)
    before = row_counts()
    data = {"organisation": tree.township.pk, "rule": "theme_day", "enabled": "1", "count": "1",
            "period_kind": "", "effective_from": "9999-12-31"}  # fmt: skip
    response = office.post(reverse("compliance:settings"), data)
    assert_refused(response, before, field="effective_from")
    latest = f"{timezone.localdate().year + 1}-12-31"
    assert f"生效日期不能晚于{latest}（明年年底）" in response.content.decode()
    data["effective_from"] = latest  # a rule announced for next year is kept as typed
    assert office.post(reverse("compliance:settings"), data).status_code == 302
    assert str(RuleSetting.objects.get().effective_from) == latest


@pytest.mark.parametrize("effective_from", ["0001-01-01", "1900-01-01"])
def test_a_local_rule_from_before_2000_is_refused_even_when_confirmed(office, tree, effective_from):
    # (Once stored as typed: it judged every period of the subtree again, back to its founding.)
    before = row_counts()
    data = {"organisation": tree.township.pk, "rule": "theme_day", "enabled": "1", "count": "1",
            "period_kind": "", "effective_from": effective_from, "confirm_rejudge": "1"}  # fmt: skip
    response = office.post(reverse("compliance:settings"), data)
    assert_refused(response, before, field="effective_from")
    assert "生效日期不能早于2000-01-01" in response.content.decode()


@pytest.mark.parametrize("year", ["1999", "9999", "abc", "2026'--", ""])
def test_an_export_of_a_year_not_offered_is_refused(secretary, branch, year):
    before = row_counts()
    response = secretary.post(reverse("ledgers:branch_export", args=[branch.pk]), {"year": year})
    assert_refused(response, before, field="year")


@pytest.mark.parametrize("kind", ["branch'--", "../../etc/passwd", ""])
def test_a_township_export_of_an_unknown_kind_is_refused(client, personas, tree, kind):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    before = row_counts()
    response = client.post(reverse("ledgers:township_export", args=[tree.township.pk]),
                           {"year": "2026", "kind": kind})  # fmt: skip
    assert_refused(response, before, field="kind")
    assert not Campaign.objects.exists()
