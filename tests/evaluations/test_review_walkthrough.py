"""What a browser walkthrough of 民主评议 found: a campaign closed and reported without its dates, 开启民主评议
offered for a year already open, and namesakes that looked alike on the results page."""

import re
import uuid
from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from evaluations import services
from evaluations.models import CampaignStatus
from members.idcard import check_character
from tests.conftest import make_campaign, make_member

CAMPAIGN_ON = date(2026, 11, 25)
PUBLICITY = {"publicity_start_on": date(2026, 11, 28), "publicity_end_on": date(2026, 12, 2)}


def id_number(serial, birth="19800722"):
    body = f"320102{birth}{serial:03d}"
    return body + check_character(body)


@pytest.fixture
def people(tree):
    return [
        make_member(tree.a1, tree.g1 if i < 3 else tree.g2, id_number(i), name=f"党员{i}") for i in range(4)
    ]


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def graded_campaign(branch, **steps):
    """Opened, every participant graded and the ballots counted; the step dates only as given."""
    campaign = services.open_campaign(
        branch=branch, year=2026, campaign_on=CAMPAIGN_ON, token=uuid.uuid4().hex
    )
    rows = {p.pk: {"votes_qualified": 9, "grade": "qualified"} for p in campaign.participants.all()}
    services.save_results(campaign=campaign, ballots_issued=10, ballots_returned=9, rows=rows)
    if steps:
        services.update_campaign(campaign=campaign, campaign_on=CAMPAIGN_ON, **steps)
    return campaign


def flashed(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---------------------------------------------------------------- 完成评议 needs its dates


def test_closing_asks_for_the_vote_and_assessment_dates_in_steps_and_dates(tree, people):
    campaign = graded_campaign(tree.a1)
    problems = services.close_problems(campaign)
    assert "请在“步骤和日期”中填写民主测评日期。" in problems
    assert "请在“步骤和日期”中填写组织评定日期。" in problems
    with pytest.raises(ValidationError, match="组织评定日期"):
        services.close_campaign(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.IN_PROGRESS

    services.update_campaign(campaign=campaign, campaign_on=CAMPAIGN_ON, vote_on=date(2026, 11, 26),
                             assessment_on=date(2026, 11, 27))  # fmt: skip
    closed = services.close_campaign(campaign=campaign)
    assert (closed.status, closed.closed_on) == (CampaignStatus.CLOSED, date(2026, 11, 27))


def test_an_assessment_dated_after_today_is_not_closed_on(tree, people):
    later = timezone.localdate() + timedelta(days=5)
    campaign = graded_campaign(tree.a1, vote_on=date(2026, 11, 26), assessment_on=later)
    with pytest.raises(ValidationError, match="组织评定日期（.*）还没有到"):
        services.close_campaign(campaign=campaign)


def test_save_and_close_on_the_results_page_says_which_dates_to_fill(secretary, tree, people):
    campaign = graded_campaign(tree.a1)
    url = reverse("reviews:results", args=[campaign.pk])
    page = secretary.get(url)
    data = {"form-TOTAL_FORMS": len(page.context["rows"]), "form-INITIAL_FORMS": len(page.context["rows"]),
            "ballots_issued": "10", "ballots_returned": "9", "close": "1"}  # fmt: skip
    for i, (_form, p) in enumerate(page.context["rows"]):
        data.update(
            {f"form-{i}-participant": p.pk, f"form-{i}-votes_qualified": "9", f"form-{i}-grade": "qualified"}
        )
    response = secretary.post(url, data)
    assert response.status_code == 302
    [_saved, refused] = flashed(response)
    assert refused.startswith("还不能完成：") and "请在“步骤和日期”中填写组织评定日期" in refused
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.IN_PROGRESS

    detail = secretary.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert "完成评议前还需要" in detail and "请在“步骤和日期”中填写民主测评日期。" in detail
    assert reverse("reviews:close", args=[campaign.pk]) not in detail  # no 完成评议 button yet


# ---------------------------------------------------------------- 上报党委 needs the 结果公示 dates


def test_reporting_needs_the_publicity_dates(tree, people):
    campaign = make_campaign(tree.a1, grades={}, close=True)
    with pytest.raises(ValidationError) as refused:
        services.report_campaign(campaign=campaign, reported_on=date(2026, 12, 3))
    assert refused.value.message_dict == {
        "publicity_start_on": ["上报党委前须先公示评议结果：请在“上报党委”页填写结果公示开始日期。"],
        "publicity_end_on": ["上报党委前须先公示评议结果：请在“上报党委”页填写结果公示结束日期。"],
    }
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED and campaign.reported_on is None

    with pytest.raises(ValidationError, match="上报日期不能早于2026-12-02"):
        services.report_campaign(campaign=campaign, reported_on=date(2026, 12, 1), **PUBLICITY)
    with pytest.raises(ValidationError, match="结果公示开始不能早于组织评定日期"):
        services.report_campaign(campaign=campaign, reported_on=date(2026, 12, 3),
                                 publicity_start_on=date(2026, 11, 24), publicity_end_on=date(2026, 11, 30))  # fmt: skip
    services.report_campaign(campaign=campaign, reported_on=date(2026, 12, 3), **PUBLICITY)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.REPORTED
    assert (campaign.publicity_start_on, campaign.publicity_end_on) == (date(2026, 11, 28), date(2026, 12, 2))
    services.report_campaign(
        campaign=campaign, reported_on=date(2026, 12, 3), **PUBLICITY
    )  # sent twice: as once
    # Other 公示 dates sent with the same report are refused, not dropped under a "reported" message.
    with pytest.raises(ValidationError, match="公示日期不能再改"):
        services.report_campaign(campaign=campaign, reported_on=date(2026, 12, 3),
                                 publicity_start_on=date(2026, 11, 29), publicity_end_on=date(2026, 12, 2))  # fmt: skip
    campaign.refresh_from_db()
    assert campaign.publicity_start_on == date(2026, 11, 28)


def test_the_report_page_takes_the_publicity_dates_with_the_report(secretary, tree, people):
    campaign = make_campaign(tree.a1, grades={}, close=True)
    detail = secretary.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert 'id="report-needs-publicity"' in detail and "填写结果公示的开始、结束日期" in detail

    url = reverse("reviews:report", args=[campaign.pk])
    refused = secretary.post(url, {"reported_on": "2026-12-03"})
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "请在“上报党委”页填写结果公示开始日期" in html and "请在“上报党委”页填写结果公示结束日期" in html
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED

    sent = secretary.post(url, {"reported_on": "2026-12-03", "publicity_start_on": "2026-11-28",
                                "publicity_end_on": "2026-12-02"})  # fmt: skip
    assert sent.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.status, campaign.publicity_end_on) == (CampaignStatus.REPORTED, date(2026, 12, 2))
    detail = secretary.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert "2026-11-28 至 2026-12-02" in detail and 'id="report-needs-publicity"' not in detail


# ---------------------------------------------------------------- one campaign a year: lead to it


def year_to_open():
    today = timezone.localdate()
    return today.year if today.month >= 7 else today.year - 1


def test_the_branch_page_leads_to_the_years_campaign_instead_of_opening_another(secretary, tree, people):
    year = year_to_open()
    branch_url = reverse("reviews:branch", args=[tree.a1.pk])
    open_url = reverse("reviews:open", args=[tree.a1.pk])
    html = secretary.get(branch_url).content.decode()
    assert f'href="{open_url}?year={year}"' in html and f"开启{year}年度民主评议" in html

    today = timezone.localdate()
    campaign = make_campaign(tree.a1, year=year, campaign_on=today - timedelta(days=5), grades={}, close=True)
    services.report_campaign(campaign=campaign, reported_on=today, publicity_start_on=today - timedelta(days=1),
                             publicity_end_on=today)  # fmt: skip
    html = secretary.get(branch_url).content.decode()
    assert open_url not in html and "开启民主评议" not in html
    link = re.search(r'<a [^>]*id="year-campaign" href="([^"]+)">([^<]+)</a>', html)
    assert link.groups() == (reverse("reviews:detail", args=[campaign.pk]), f"{year}年度民主评议（已上报）")


def test_opening_a_year_already_open_links_to_its_campaign(secretary, tree, people):
    year = year_to_open()
    campaign = make_campaign(tree.a1, year=year, campaign_on=timezone.localdate())
    detail_link = f'<a href="{reverse("reviews:detail", args=[campaign.pk])}">打开{year}年度民主评议</a>'
    url = reverse("reviews:open", args=[tree.a1.pk])
    page = secretary.get(url).content.decode()  # a page kept open, or an old link
    assert f"{year}年度的民主评议已经开启（草稿），不能再开启：{detail_link}继续。" in page

    sent = secretary.post(url, {"year": year, "campaign_on": timezone.localdate().isoformat(),
                                "token": uuid.uuid4().hex})  # fmt: skip
    html = sent.content.decode()
    assert sent.status_code == 200 and "年度的民主评议已经开启，请在评议页面继续" in html
    assert detail_link in html

    # A voided campaign does not hold the year: it may be opened again.
    services.void_campaign(campaign=campaign, reason="启动日期录错")
    html = secretary.get(reverse("reviews:branch", args=[tree.a1.pk])).content.decode()
    assert f"开启{year}年度民主评议" in html and 'id="year-campaign"' not in html
    assert "不能再开启" not in secretary.get(url).content.decode()


# ---------------------------------------------------------------- namesakes on the results


def test_namesakes_are_told_apart_on_the_results_and_the_campaign(secretary, tree, people):
    first = make_member(tree.a1, tree.g1, id_number(50, "19571211"), name="谢伟")
    second = make_member(tree.a1, tree.g2, id_number(51, "19920514"), name="谢伟")
    campaign = services.open_campaign(
        branch=tree.a1, year=2026, campaign_on=CAMPAIGN_ON, token=uuid.uuid4().hex
    )
    page = secretary.get(reverse("reviews:results", args=[campaign.pk]))
    rows = {p.member_id: p.label for _form, p in page.context["rows"]}
    assert rows[first.pk] == "谢伟（第一党小组）" and rows[second.pk] == "谢伟（第二党小组）"
    assert rows[people[0].pk] == "党员0"
    html = page.content.decode()
    assert (
        '<div class="fw-semibold">谢伟（第一党小组）' in html
        and '<div class="fw-semibold">谢伟（第二党小组）' in html
    )

    detail = secretary.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert "<td>谢伟（第一党小组）" in detail and "<td>谢伟（第二党小组）" in detail
    assert (
        "还有参评党员没有组织评定等次：" in detail
        and "谢伟（第二党小组）" in services.close_problems(campaign)[-1]
    )
