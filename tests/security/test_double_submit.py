"""The same form posted twice (a double tap, a resend after a lost connection) makes one record."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluations.models import Campaign
from meetings.models import Attendance, Meeting, Talk
from members.models import DuesPayment, Member, PipelineEvent, ThoughtReport
from tests.security.conftest import idn, meeting_data, row_counts

TODAY = timezone.localdate


def test_a_meeting_posted_twice_is_one_meeting_even_if_the_second_differs(secretary, branch):
    url = reverse("meetings:create") + f"?branch={branch.pk}"
    data = meeting_data(branch)
    first = secretary.post(url, data)
    second = secretary.post(url, {**data, "topic": "第二次提交时改了主题"})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Meeting.objects.get().topic == "学习党章"
    assert Attendance.objects.count() == len(branch.people)


def test_a_campaign_opened_twice_is_one_campaign(secretary, branch):
    data = {"year": "2026", "campaign_on": "2026-11-25", "token": uuid.uuid4().hex}
    url = reverse("reviews:open", args=[branch.pk])
    first, second = secretary.post(url, data), secretary.post(url, data)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert Campaign.objects.count() == 1


def test_a_second_campaign_for_the_same_year_is_refused_in_chinese(secretary, branch):
    url = reverse("reviews:open", args=[branch.pk])
    secretary.post(url, {"year": "2026", "campaign_on": "2026-11-25", "token": uuid.uuid4().hex})
    again = secretary.post(url, {"year": "2026", "campaign_on": "2026-11-26", "token": uuid.uuid4().hex})
    assert again.status_code == 200 and "已经开启" in again.content.decode()
    assert Campaign.objects.count() == 1


def test_a_member_registered_twice_is_one_member(secretary, branch):
    data = {"name": "王芳", "id_number": idn(700), "branch": branch.pk, "category": "full", "ethnicity": "汉族",
            "joined_on": "2005-07-01", "confirmed_on": "2006-07-01", "dues_kind": "employed"}  # fmt: skip
    assert secretary.post(reverse("members:create"), data).status_code == 302
    again = secretary.post(reverse("members:create"), data)
    assert again.status_code == 200 and "身份证号已登记" in again.content.decode()
    assert Member.objects.filter(id_number=idn(700)).count() == 1


def test_a_dues_payment_posted_twice_is_one_payment(secretary, branch):
    person = branch.people[0]
    url = reverse("members:action", args=[person.pk, "dues"])
    data = {"month": f"{TODAY():%Y-%m}", "paid_on": TODAY().isoformat(), "amount": "10.00"}
    assert secretary.post(url, data).status_code == 302
    again = secretary.post(url, data)
    assert again.status_code == 200 and "党费已登记" in again.content.decode()
    assert DuesPayment.objects.filter(member=person).count() == 1


def test_marking_a_month_paid_twice_records_each_member_once(secretary, branch):
    Member.objects.update(dues_base=Decimal("3000"))
    url = reverse("members:dues_month", args=[branch.pk])
    data = {"month": f"{TODAY():%Y-%m}", "member": [p.pk for p in branch.people]}
    secretary.post(url, data)
    secretary.post(url, data)
    assert DuesPayment.objects.count() == len(branch.people)


def test_a_thought_report_posted_twice_is_one_report(secretary, branch):
    url = reverse("members:action", args=[branch.people[0].pk, "report"])
    data = {"received_on": TODAY().isoformat(), "title": "第四季度思想汇报"}
    assert secretary.post(url, data).status_code == 302
    assert secretary.post(url, data).status_code == 302
    assert ThoughtReport.objects.count() == 1


def test_a_pipeline_event_posted_twice_is_one_event(secretary, branch):
    url = reverse("members:action", args=[branch.people[0].pk, "pipeline"])
    data = {"kind": "training", "happened_on": TODAY().isoformat(), "hours": "8", "note": "党校培训"}
    first, second = secretary.post(url, data), secretary.post(url, data)
    assert first.status_code == second.status_code == 302
    assert PipelineEvent.objects.count() == 1


def test_talks_posted_twice_are_recorded_once(secretary, branch):
    url = reverse("meetings:talks", args=[branch.pk])
    data = {"talked_on": TODAY().isoformat(), "t0-initiator": branch.people[0].pk,
            "t0-counterpart": branch.people[1].pk, "t0-topic": "谈工作"}  # fmt: skip
    assert secretary.post(url, data).status_code == 302
    assert secretary.post(url, data).status_code == 302
    assert Talk.objects.count() == 1


def test_an_export_requested_twice_is_one_export(secretary, branch):
    from ledgers.models import LedgerExport

    url = reverse("ledgers:branch_export", args=[branch.pk])
    first = secretary.post(url, {"year": str(TODAY().year)})
    second = secretary.post(url, {"year": str(TODAY().year)})
    assert first.status_code == second.status_code == 302
    assert LedgerExport.objects.count() in (1, 2)  # a finished export may be asked for again
    assert LedgerExport.objects.filter(status__in=["queued", "running"]).count() == 0


def test_a_void_posted_twice_voids_once(secretary, branch):
    url = reverse("meetings:create") + f"?branch={branch.pk}"
    secretary.post(url, meeting_data(branch))
    meeting = Meeting.objects.get()
    void = reverse("meetings:void", args=[meeting.pk])
    assert secretary.post(void, {"reason": "重复录入"}).status_code == 302
    again = secretary.post(void, {"reason": "重复录入"})
    assert again.status_code == 200 and "已作废" in again.content.decode()
    meeting.refresh_from_db()
    assert meeting.void_reason == "重复录入" and meeting.history.count() == 2


@pytest.mark.parametrize("mode", ["skip", "update"])
def test_an_import_committed_twice_writes_once(secretary, branch, mode):
    from members.models import RosterImport
    from tests.security.test_uploads import good_row, post_files, roster_bytes

    upload = post_files(
        secretary, reverse("members:import"), {}, [("file", "名册.xlsx", roster_bytes([good_row(1)]))]
    )
    before = row_counts()
    secretary.post(upload["Location"], {"mode": mode})
    after_first = row_counts()
    secretary.post(upload["Location"], {"mode": mode})
    assert row_counts() == after_first and after_first["members.Member"] == before["members.Member"] + 1
    assert RosterImport.objects.get().outcome["counts"]["created"] == 1
