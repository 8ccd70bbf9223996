"""Recording organisational life: attendance, backfill, quorum, review, void, locks, attachments."""

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from compliance.periods import last_weekday_of_month, working_days_between
from meetings import services
from meetings.models import Attendance, Meeting, MeetingTypeTag, ReviewState
from members import services as member_services
from members.idcard import check_character
from members.models import Member
from tests.conftest import make_meeting, make_member


def id_number(serial, birth="19800722"):
    body = f"320102{birth}{serial:03d}"
    return body + check_character(body)


def at(day, hour=20):
    return timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def people(tree):
    return [
        make_member(tree.a1, tree.g1 if i < 3 else tree.g2, id_number(i), name=f"党员{i}") for i in range(6)
    ]


def record(
    tree, people, *, types=("general_meeting",), held_on=date(2026, 11, 20), now=None, statuses=None, **extra
):
    expected = services.attendance_list(
        branch=tree.a1, types=list(types), held_on=held_on, group=extra.get("group")
    )
    statuses = statuses or {}
    attendance = {r.member_id: (statuses.get(r.member_id, "present"), "病假" if statuses.get(r.member_id) == "leave" else "")
                  for r in expected}  # fmt: skip
    return services.record_meeting(
        branch=tree.a1, types=list(types), held_on=held_on, topic="学习讨论", attendance=attendance,
        token=extra.pop("token", uuid.uuid4().hex), now=now or at(held_on), **extra,
    )  # fmt: skip


# ---------------------------------------------------------------- working days (pure)


def test_working_days_skip_weekends_and_public_holidays():
    # 2026-09-30 (Wed) → National Day holiday 10-01..10-07; 10-10 (Sat) is a make-up working day.
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == 2
    assert working_days_between(date(2026, 11, 20), date(2026, 11, 25)) == 3  # Fri → Wed over a weekend
    assert working_days_between(date(2026, 11, 20), date(2026, 11, 20)) == 0


def test_years_the_calendar_does_not_know_count_weekends_only():
    assert working_days_between(date(2027, 1, 1), date(2027, 1, 8)) == 5


def test_theme_day_default_is_the_last_friday():
    assert last_weekday_of_month(2026, 11, 4) == date(2026, 11, 27)
    assert last_weekday_of_month(2026, 12, 4) == date(2026, 12, 25)


# ---------------------------------------------------------------- attendance


def test_expected_attendance_follows_the_roster_on_the_meeting_date(tree, people):
    today = date(2026, 11, 23)
    exempt, away, leaver = people[0], people[1], people[2]
    member_services.record_exemption(member=exempt, kind="sick", started_on=date(2026, 10, 1),
                                     ended_on=date(2026, 12, 31), approved_on=date(2026, 9, 28), today=today)  # fmt: skip
    member_services.start_mobility(member=away, destination="深圳", started_on=date(2026, 9, 1), today=today)
    member_services.transfer_out(member=leaver, on=date(2026, 10, 15), counterpart="外地党委", today=today)
    newcomer = member_services.register_member(
        branch=tree.a1, id_number=id_number(50), name="新人", category="probationary",
        joined_on=date(2026, 11, 1), today=today,
    )  # fmt: skip
    applicant = member_services.register_member(
        branch=tree.a1, id_number=id_number(51), name="申请人", category="applicant", applied_on=date(2026, 1, 5), today=today
    )  # fmt: skip

    def names(on):
        return {
            r.member.name: r.away_then
            for r in services.attendance_list(branch=tree.a1, types=["theme_day"], held_on=on)
        }

    october = names(date(2026, 10, 10))
    assert set(october) == {
        "党员1",
        "党员2",
        "党员3",
        "党员4",
        "党员5",
    }  # 党员0 exempt, 新人 not yet a member
    assert october["党员1"] is True  # away, listed as 外出
    november = names(date(2026, 11, 20))
    assert "党员2" not in november and "新人" in november and applicant.name not in november
    assert newcomer.category == "probationary"


def test_counts_and_quorum(tree, people):
    absent = {p.pk: "absent" for p in people[:3]}
    meeting = record(tree, people, statuses=absent)
    assert meeting.low_quorum  # 3 of 6 正式党员 present: not more than half
    rows = Attendance.objects.filter(meeting=meeting)
    assert rows.filter(status="present").count() == 3 and rows.count() == 6
    fine = record(tree, people, statuses={people[0].pk: "leave"})
    assert not fine.low_quorum
    assert Attendance.objects.get(meeting=fine, member=people[0]).leave_reason == "病假"


def test_leave_needs_a_reason_and_every_member_a_status(tree, people):
    expected = services.attendance_list(branch=tree.a1, types=["theme_day"], held_on=date(2026, 11, 20))
    attendance = {r.member_id: ("present", "") for r in expected}
    attendance[people[0].pk] = ("leave", " ")
    with pytest.raises(ValidationError, match="请填写请假事由"):
        services.record_meeting(branch=tree.a1, types=["theme_day"], held_on=date(2026, 11, 20), topic="x",
                                attendance=attendance, token="t1", now=at(date(2026, 11, 20)))  # fmt: skip
    del attendance[people[0].pk]
    with pytest.raises(ValidationError, match="请为每位应到人员选择出勤情况：党员0"):
        services.record_meeting(branch=tree.a1, types=["theme_day"], held_on=date(2026, 11, 20), topic="x",
                                attendance=attendance, token="t2", now=at(date(2026, 11, 20)))  # fmt: skip
    assert not Meeting.objects.exists()


def test_attendance_for_a_member_of_another_branch_is_refused(tree, people):
    stranger = make_member(tree.b1, None, id_number(70), name="外支部")
    expected = services.attendance_list(branch=tree.a1, types=["theme_day"], held_on=date(2026, 11, 20))
    attendance = {r.member_id: ("present", "") for r in expected}
    attendance[stranger.pk] = ("present", "")
    with pytest.raises(ValidationError, match="不在本次应到名单内"):
        services.record_meeting(branch=tree.a1, types=["theme_day"], held_on=date(2026, 11, 20), topic="x",
                                attendance=attendance, token="t3", now=at(date(2026, 11, 20)))  # fmt: skip


def test_group_meeting_lists_the_group_only_and_needs_a_group(tree, people):
    with pytest.raises(ValidationError, match="党小组会请选择党小组"):
        record(tree, people, types=("group_meeting",))
    meeting = record(tree, people, types=("group_meeting",), group=tree.g2)
    assert set(meeting.attendance.values_list("member__name", flat=True)) == {"党员3", "党员4", "党员5"}


def test_one_meeting_carries_several_types(tree, people):
    meeting = record(tree, people, types=("theme_day", "party_lecture", "general_meeting"), lecturer="书记")
    assert set(MeetingTypeTag.objects.filter(meeting=meeting).values_list("type", flat=True)) == {
        "theme_day", "party_lecture", "general_meeting"}  # fmt: skip
    with pytest.raises(ValidationError, match="党课请填写主讲人"):
        record(tree, people, types=("party_lecture",))


# ---------------------------------------------------------------- backfill, dates, idempotency


def test_backfill_after_three_working_days_needs_a_reason(tree, people):
    held = date(2026, 11, 13)  # Friday
    on_time = record(tree, people, held_on=held, now=at(date(2026, 11, 18)))  # Mon, Tue, Wed = 3
    assert not on_time.is_backfill and on_time.lateness_days == 3
    with pytest.raises(ValidationError, match="属于补录，请填写补录原因"):
        record(tree, people, held_on=held, now=at(date(2026, 11, 19)))
    late = record(tree, people, held_on=held, now=at(date(2026, 11, 19)), backfill_reason="记录员出差")
    assert late.is_backfill and late.lateness_days == 4 and late.held_on == held


def test_future_dates_are_refused(tree, people):
    with pytest.raises(ValidationError, match="不能晚于今天"):
        record(tree, people, held_on=date(2026, 11, 25), now=at(date(2026, 11, 23)))


def test_the_same_form_submitted_twice_makes_one_meeting(tree, people):
    first = record(tree, people, token="same-token")
    second = record(tree, people, token="same-token")
    assert first.pk == second.pk
    assert Meeting.objects.count() == 1


# ---------------------------------------------------------------- edit, void, review, lock


def test_edit_keeps_history_and_sends_a_returned_record_back_for_review(tree, people):
    meeting = record(tree, people)
    services.review_meeting(meeting=meeting, decision=ReviewState.RETURNED, comment="请补充发言要点")
    expected = services.attendance_list(branch=tree.a1, types=["general_meeting"], held_on=meeting.held_on)
    attendance = {r.member_id: ("present", "") for r in expected}
    attendance[people[5].pk] = ("absent", "")
    services.update_meeting(meeting=meeting, types=["general_meeting"], held_on=meeting.held_on, topic="学习讨论（补充）",
                            attendance=attendance, now=at(date(2026, 11, 21)), content="补充了发言要点")  # fmt: skip
    meeting.refresh_from_db()
    assert meeting.review_state == ReviewState.SUBMITTED
    assert meeting.history.count() == 3
    assert meeting.history.earliest().topic == "学习讨论"
    changed = Attendance.objects.get(meeting=meeting, member=people[5])
    assert changed.status == "absent" and changed.history.count() == 2


def test_return_needs_a_comment(tree, people):
    meeting = record(tree, people)
    with pytest.raises(ValidationError, match="写明需要修改"):
        services.review_meeting(meeting=meeting, decision=ReviewState.RETURNED, comment="")


def test_void_keeps_the_record(tree, people):
    meeting = record(tree, people)
    services.void_meeting(meeting=meeting, reason="重复录入")
    meeting.refresh_from_db()
    assert meeting.voided_at and meeting.void_reason == "重复录入"
    assert Meeting.objects.count() == 1
    with pytest.raises(ValidationError, match="已作废"):
        services.void_meeting(meeting=meeting, reason="再次")


def test_a_locked_year_cannot_change_until_unlocked(tree, people):
    meeting = record(tree, people, held_on=date(2025, 12, 26), now=at(date(2025, 12, 26)))
    services.set_year_lock(branch=tree.a1, year=2025, locked=True)
    with pytest.raises(ValidationError, match="2025年度台账已锁定"):
        services.void_meeting(meeting=meeting, reason="x")
    with pytest.raises(ValidationError, match="2025年度台账已锁定"):
        record(tree, people, held_on=date(2025, 12, 20), now=at(date(2025, 12, 22)))
    lock = services.set_year_lock(branch=tree.a1, year=2025, locked=False)
    services.void_meeting(meeting=meeting, reason="录错")
    assert lock.history.count() == 2


def test_records_changed_is_sent_after_commit(tree, people, django_capture_on_commit_callbacks):
    from meetings.signals import records_changed

    seen = []

    def handler(sender, branch_id, dates, **kwargs):
        seen.append((branch_id, dates))

    records_changed.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            record(tree, people)
    finally:
        records_changed.disconnect(handler)
    assert seen == [(tree.a1.pk, [date(2026, 11, 20)])]


# ---------------------------------------------------------------- attachments


@pytest.mark.parametrize(
    ("name", "content", "ok"),
    [
        ("照片.jpg", b"\xff\xd8\xff\xe0rest", True),
        ("签到表.pdf", b"%PDF-1.7 rest", True),
        ("病毒.pdf", b"MZ\x90\x00 this is an exe", False),
        ("记录.docx", b"PK\x03\x04 not really a zip", False),
        ("脚本.png", b"<script>alert(1)</script>", False),
    ],
)
def test_attachments_are_judged_by_content(tree, people, name, content, ok):
    meeting = record(tree, people)
    upload = SimpleUploadedFile(name, content)
    if ok:
        [saved] = services.add_attachments(meeting=meeting, uploads=[upload])
        assert saved.original_name == name and not saved.file.name.endswith(name)
    else:
        with pytest.raises(ValidationError, match="不是允许的文件类型"):
            services.add_attachments(meeting=meeting, uploads=[upload])


def test_uploaded_path_names_are_reduced_to_a_file_name(tree, people):
    meeting = record(tree, people)
    [saved] = services.add_attachments(
        meeting=meeting, uploads=[SimpleUploadedFile("../../etc/passwd.pdf", b"%PDF-1 x")]
    )
    assert saved.original_name == "passwd.pdf"
    assert ".." not in saved.file.name


# ---------------------------------------------------------------- pages


def test_secretary_records_a_meeting_on_the_page_once(client, personas, tree, people):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("meetings:create") + f"?branch={tree.a1.pk}"
    page = client.get(url)
    token = page.context["form"].initial["token"]
    assert len(page.context["grid"]) == 6
    html = page.content.decode()
    assert 'value="theme_day"' in html and 'name="held_on"' in html and "请假事由" in html
    today = timezone.localdate()
    data = {"types": ["theme_day", "party_lecture"], "held_on": today.isoformat(), "topic": "主题党日",
            "lecturer": "书记", "token": token, "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0"}  # fmt: skip
    data.update({f"att_{p.pk}": "present" for p in people})
    data[f"att_{people[0].pk}"] = "leave"
    data[f"reason_{people[0].pk}"] = "住院"
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    meeting = Meeting.objects.get()
    assert first["Location"] == reverse("meetings:detail", args=[meeting.pk])
    detail = client.get(first["Location"]).content.decode()
    assert "应到 6，实到 5，请假 1" in detail and "住院" in detail


@pytest.mark.parametrize(
    ("given", "missing"),
    [({"off_day_approved_by": "镇党委"}, "off_day_approved_on"),
     ({"off_day_approved_on": date(2026, 11, 18)}, "off_day_approved_by")],
)  # fmt: skip
def test_a_theme_day_approval_names_who_and_when(tree, people, given, missing):
    with pytest.raises(ValidationError) as refused:
        record(tree, people, types=("theme_day",), **given)
    assert missing in refused.value.message_dict
    assert not Meeting.objects.exists()
    record(
        tree,
        people,
        types=("theme_day",),
        off_day_approved_by="镇党委",
        off_day_approved_on=date(2026, 11, 18),
    )
    assert Meeting.objects.get().off_day_approved_by == "镇党委"


def test_the_attendance_grid_starts_a_member_out_of_contact_at_absent(client, personas, tree, people):
    Member.objects.filter(pk=people[2].pk).update(lost_contact_on=date(2026, 4, 11))
    client.force_login(personas[Role.SECRETARY])
    grid = client.get(reverse("meetings:create") + f"?branch={tree.a1.pk}").context["grid"]
    chosen = {item["row"].member_id: item["status"] for item in grid}
    assert chosen[people[2].pk] == "absent"
    assert {chosen[p.pk] for p in people if p != people[2]} == {"present"}
    earlier = (
        reverse("meetings:create") + f"?branch={tree.a1.pk}&period_end=2026-03-31"
    )  # held before the loss
    grid = client.get(earlier).context["grid"]
    assert {item["status"] for item in grid} == {"present"}


def test_a_member_out_of_contact_recorded_present_is_pointed_out_on_the_record(
    client, personas, tree, people
):
    """Recorded present, a 失联 member is evidently back in contact; the record says so and links to their
    details, where the 失联 date that keeps the 停止党籍 reminder alive is cleared."""
    Member.objects.filter(pk=people[2].pk).update(lost_contact_on=date(2026, 4, 11))
    meeting = record(tree, people)
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    assert "出席人员中有登记为失联的党员" in page and "2026-04-11起失联" in page
    assert reverse("members:edit", args=[people[2].pk]) in page
    client.force_login(personas[Role.TOWNSHIP_LEADER])  # reads the record, edits no member
    page = client.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    assert "出席人员中有登记为失联的党员" in page and reverse("members:edit", args=[people[2].pk]) not in page

    Member.objects.filter(pk=people[2].pk).update(lost_contact_on=None)
    client.force_login(personas[Role.SECRETARY])
    assert "登记为失联" not in client.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()


def test_a_refused_meeting_lists_what_to_correct_at_the_top_of_the_page(client, personas, tree, people):
    """On a phone the 补录原因 field is screens below the first: the page opens on a summary that links to it."""
    client.force_login(personas[Role.SECRETARY])
    url = reverse("meetings:create") + f"?branch={tree.a1.pk}"
    token = client.get(url).context["form"].initial["token"]
    held_on = timezone.localdate() - timedelta(days=20)
    data = {"types": ["theme_day"], "held_on": held_on.isoformat(), "topic": "补开主题党日", "token": token,
            "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0"}  # fmt: skip
    data.update({f"att_{p.pk}": "present" for p in people})
    page = client.post(url, data)
    assert page.status_code == 200 and not Meeting.objects.exists()
    html = page.content.decode()
    summary = html.index('id="error-summary"')
    assert summary < html.index('name="held_on"')
    assert '<a class="alert-link" href="#id_backfill_reason">补录原因</a>：会议召开' in html[summary:]
    assert 'value="补开主题党日"' in html  # nothing typed is lost
    untyped = client.post(url, {**data, "types": [], "backfill_reason": "外出学习"}).content.decode()
    assert '<a class="alert-link" href="#id_types_0">会议类型（可多选）</a>：' in untyped  # a list of boxes


def test_secretary_cannot_record_for_another_branch(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    assert client.get(reverse("meetings:create") + f"?branch={tree.b1.pk}").status_code == 404
    assert (
        client.post(reverse("meetings:create") + f"?branch={tree.b1.pk}", {"topic": "x"}).status_code == 404
    )


def test_returned_record_shows_on_the_secretary_home(client, personas, tree, people):
    meeting = record(tree, people)
    client.force_login(personas[Role.INSTRUCTOR])
    client.post(
        reverse("meetings:review", args=[meeting.pk]), {"decision": "returned", "comment": "缺少会议记录"}
    )
    client.force_login(personas[Role.SECRETARY])
    home = client.get(client.get(reverse("home"))["Location"]).content.decode()
    assert "党委退回修改的记录" in home and "缺少会议记录" in home


def test_list_and_detail_queries_do_not_grow(client, personas, tree, people):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    record(tree, people)
    client.get(reverse("meetings:list"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("meetings:list"), {"year": 2026})
    with CaptureQueriesContext(connection) as few_resubmitted:
        client.get(reverse("meetings:list"), {"year": 2026, "state": "resubmitted"})
    for day in range(1, 15):
        make_meeting(tree.a1, None, people, types=("theme_day",), held_on=date(2026, 10, day), attachment=False,
                     now=at(date(2026, 10, day)))  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("meetings:list"), {"year": 2026})
    assert response.context["page"].paginator.count == 15
    assert len(many) == len(few)
    with CaptureQueriesContext(connection) as many_resubmitted:
        client.get(reverse("meetings:list"), {"year": 2026, "state": "resubmitted"})
    assert len(many_resubmitted) == len(few_resubmitted)
    listed = {m.pk: (m.expected, m.present) for m in response.context["page"].object_list}
    first = Meeting.objects.filter(topic="学习讨论").first()
    assert listed[first.pk] == (first.attendance.count(), first.attendance.filter(status="present").count())
    assert f"应到 {first.attendance.count()} 实到" in response.content.decode()

    small = make_meeting(
        tree.a1, None, people, types=("theme_day",), held_on=date(2026, 9, 25), now=at(date(2026, 9, 25))
    )
    for i in range(20):
        make_member(tree.a1, None, id_number(100 + i), name=f"新党员{i}")
    large = make_meeting(tree.a1, None, people, types=("theme_day",), held_on=date(2026, 11, 20))
    assert large.attendance.count() == 26
    counts = []
    for meeting in (small, large):
        client.get(reverse("meetings:detail", args=[meeting.pk]))
        with CaptureQueriesContext(connection) as detail:
            client.get(reverse("meetings:detail", args=[meeting.pk]))
        counts.append(len(detail))
    assert counts[0] == counts[1]


def test_the_office_locks_a_year_from_the_list(client, personas, tree, people):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = reverse("meetings:list")
    page = client.get(url, {"branch": tree.a1.pk, "year": 2025}).content.decode()
    assert "锁定2025年度台账" in page
    client.post(reverse("meetings:year_lock", args=[tree.a1.pk]), {"year": "2025", "locked": "1"})
    page = client.get(url, {"branch": tree.a1.pk, "year": 2025}).content.decode()
    assert "2025年度台账已锁定" in page and "解锁2025年度台账" in page
    client.force_login(personas[Role.SECRETARY])
    page = client.get(url, {"branch": tree.a1.pk, "year": 2025}).content.decode()
    assert "解锁2025年度台账" not in page


def test_a_download_is_served_as_its_content_not_its_name(client, personas, tree, people):
    meeting = record(tree, people)
    [saved] = services.add_attachments(
        meeting=meeting, uploads=[SimpleUploadedFile("evil.html", b"%PDF-1.4 <script>")]
    )
    client.force_login(personas[Role.SECRETARY])
    response = client.get(reverse("meetings:attachment", args=[meeting.pk, saved.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Security-Policy"] == "sandbox"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_attachments_over_the_size_limit_are_refused(tree, people):
    from meetings.attachments import MAX_BYTES

    meeting = record(tree, people)
    big = SimpleUploadedFile("扫描件.pdf", b"%PDF-1.4" + b"0" * MAX_BYTES)
    with pytest.raises(ValidationError, match="超过 10 MB"):
        services.add_attachments(meeting=meeting, uploads=[big])
    assert not meeting.attachments.exists()
