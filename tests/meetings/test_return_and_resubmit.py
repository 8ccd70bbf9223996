"""A record the office returns: its comment where the secretary corrects it, and the record, once submitted
again, findable by the office for its second look. `branch` (甲社区第一党支部) has 党员0–3."""

from datetime import date

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches.models import Role
from meetings import services
from tests.conftest import make_meeting

COMMENT = "会议记录只写了标题，请补充讨论内容。"


def returned(client, personas, meeting):
    office = personas[Role.TOWNSHIP_ADMIN]
    get_user_model().objects.filter(pk=office.pk).update(first_name="王组织员")
    client.force_login(office)
    client.post(reverse("meetings:review", args=[meeting.pk]), {"decision": "returned", "comment": COMMENT})
    meeting.refresh_from_db()
    return meeting


def resubmit(meeting):
    """The secretary saves the record as it is (the edit a return asks for goes through update_meeting)."""
    attendance = {a.member_id: (a.status, a.leave_reason) for a in meeting.attendance.all()}
    return services.update_meeting(
        meeting=meeting, types=[t.type for t in meeting.types.all()], held_on=meeting.held_on,
        topic=meeting.topic, attendance=attendance, lecturer=meeting.lecturer, content="讨论了……",
    )  # fmt: skip


def test_the_edit_page_of_a_returned_record_shows_the_comment_and_opens_the_minutes(client, personas, branch):
    meeting = make_meeting(branch, None, branch.people, types=("theme_day",), attachment=False)
    client.force_login(personas[Role.SECRETARY])
    before = client.get(reverse("meetings:edit", args=[meeting.pk])).content.decode()
    assert 'id="return-comment"' not in before
    assert '<details class="bg-white border rounded p-3 mb-3" id="minutes-section">' in before  # closed

    returned(client, personas, meeting)
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("meetings:edit", args=[meeting.pk])).content.decode()
    notice = page.split('id="return-comment"', 1)[1].split("</div></div>", 1)[0]
    assert COMMENT in notice and "王组织员" in notice and date.today().strftime("%Y-%m-%d") in notice
    assert page.index("return-comment") < page.index('name="topic"')  # at the top, before the fields
    assert 'id="minutes-section" open>' in page


def test_a_record_submitted_again_after_a_return_is_found_and_marked(client, personas, branch):
    again = make_meeting(
        branch, None, branch.people, types=("theme_day",), attachment=False, topic="重新提交的"
    )
    still = make_meeting(
        branch, None, branch.people, types=("party_lecture",), attachment=False, topic="仍在退回"
    )
    make_meeting(branch, None, branch.people, types=("general_meeting",), attachment=False, topic="从未退回")
    resubmit(returned(client, personas, again))
    returned(client, personas, still)
    again.refresh_from_db()
    assert again.review_state == "submitted"

    listing = client.get(reverse("meetings:list"), {"year": 2026, "state": "resubmitted"})
    assert [m.topic for m in listing.context["page"].object_list] == ["重新提交的"]
    html = listing.content.decode()
    assert "退回后已重新提交" in html and '<option value="resubmitted" selected>' in html

    everything = client.get(reverse("meetings:list"), {"year": 2026}).content.decode()
    assert everything.count("退回后已重新提交") == 1  # the one record resubmitted, not the one still returned

    detail = client.get(reverse("meetings:detail", args=[again.pk])).content.decode()
    assert 'id="resubmitted"' in detail and COMMENT in detail
    other = client.get(reverse("meetings:detail", args=[still.pk])).content.decode()
    assert 'id="resubmitted"' not in other


def test_the_resubmitted_filter_reads_as_many_queries_for_many_records_as_for_one(client, personas, branch):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("meetings:list"), {"year": 2026, "state": "resubmitted"})
        return len(captured), response.context["page"].paginator.count

    resubmit(returned(client, personas, make_meeting(branch, None, branch.people, types=("theme_day",),
                                                     held_on=date(2026, 10, 1), attachment=False)))  # fmt: skip
    client.get(reverse("meetings:list"))
    one = queries()
    for day in range(2, 8):
        meeting = make_meeting(branch, None, branch.people, types=("theme_day",), held_on=date(2026, 10, day),
                               attachment=False)  # fmt: skip
        resubmit(returned(client, personas, meeting))
    many = queries()
    assert (one[1], many[1]) == (1, 7)
    assert many[0] == one[0]
