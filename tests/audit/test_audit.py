"""操作记录: who changed or voided which record, when, from what to what — for the township office."""

import re
from datetime import date, datetime, time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Role, RoleAssignment
from compliance.models import RuleSetting
from meetings import services as meeting_services
from meetings.models import Attendance, Meeting
from members.idcard import check_character
from tests.conftest import make_campaign, make_meeting, make_member, make_user

LOG = reverse("audit:log")


def id_number(serial, birth="19800722"):
    body = f"320102{birth}{serial:03d}"
    return body + check_character(body)


def _read(html):
    """HTML as a reader sees it: inline tags vanish, block tags separate, whitespace collapses."""
    html = re.sub(r"</?(span|a|time)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def text(response):
    return _read(response.content.decode())


def entry_lines(response):
    """Each entry of the page as one line of text."""
    html = response.content.decode()
    items = re.findall(
        r'<li class="list-group-item[^"]*">(.*?)</li>\s*(?=<li class="list-group-item|</ul>)', html, re.S
    )
    return [_read(item) for item in items]


@pytest.fixture
def people(tree):
    return [make_member(tree.a1, None, id_number(i), name=f"党员{i}") for i in range(4)]


@pytest.fixture
def secretary(personas):
    user = personas[Role.SECRETARY]
    user.first_name = "王芳"
    user.save()
    return user


def edit_data(meeting, **changes):
    """What the edit form posts back when only `changes` are typed in (attendance: {member: status})."""
    statuses = {a.member_id: a.status for a in meeting.attendance.all()}
    statuses.update({member.pk: status for member, status in changes.pop("attendance", {}).items()})
    data = {
        "types": changes.pop("types", [t.type for t in meeting.types.all()]),
        "held_on": meeting.held_on.isoformat(),
        "topic": meeting.topic,
        "lecturer": meeting.lecturer,
        "group": meeting.group_id or "",
        "token": meeting.submit_token,
        "rect-TOTAL_FORMS": "0",
        "rect-INITIAL_FORMS": "0",
        **{f"att_{pk}": status for pk, status in statuses.items()},
        **changes,
    }
    return data


def edit(client, meeting, **changes):
    response = client.post(reverse("meetings:edit", args=[meeting.pk]), edit_data(meeting, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]


def general_meeting(tree, people, **extra):
    return make_meeting(tree.a1, None, people, types=("general_meeting",), attachment=False, **extra)


def log(client, user, **params):
    client.force_login(user)
    response = client.get(LOG, params)
    assert response.status_code == 200
    return response


# ---------------------------------------------------------------- what the office sees


def test_a_topic_edit_shows_from_and_to_with_the_editors_name(client, personas, tree, people, secretary):
    meeting = general_meeting(tree, people, topic="学习党章")
    client.force_login(secretary)
    edit(client, meeting, topic="学习新修订的党章")

    response = log(client, personas[Role.TOWNSHIP_ADMIN], kind="meeting")
    [line] = [line for line in entry_lines(response) if line.startswith("修改 会议")]
    assert "主题：学习党章 → 学习新修订的党章" in line
    assert "王芳" in line
    assert f'href="{reverse("meetings:detail", args=[meeting.pk])}"' in response.content.decode()
    assert "录入时间" not in line and "submit" not in line  # internal fields stay out


def test_voiding_shows_void_with_the_reason_not_the_void_fields(client, personas, tree, people, secretary):
    meeting = general_meeting(tree, people)
    client.force_login(secretary)
    client.post(reverse("meetings:void", args=[meeting.pk]), {"reason": "与10月记录重复"})

    response = log(client, personas[Role.TOWNSHIP_LEADER], kind="meeting")
    [entry] = [e for e in response.context["page"].entries if e.action == "作废"]
    assert entry.reason == "与10月记录重复" and entry.editor == secretary
    assert entry.changes == []
    assert "作废原因：与10月记录重复" in text(response)


def test_an_attendance_change_names_the_member_and_both_statuses(client, personas, tree, people, secretary):
    meeting = general_meeting(tree, people)
    client.force_login(secretary)
    edit(client, meeting, attendance={people[2]: "absent"})

    response = log(client, personas[Role.INSTRUCTOR], kind="attendance", action="changed")
    [line] = entry_lines(response)
    assert "出勤" in line and "党员2" in line and "出勤：出席 → 缺席" in line and "王芳" in line


def test_a_changed_meeting_type_is_listed(client, personas, tree, people, secretary):
    meeting = general_meeting(tree, people)
    client.force_login(secretary)
    edit(client, meeting, types=["general_meeting", "party_lecture"])

    lines = entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="meeting", action="added"))
    assert any(line.startswith("新增 会议类型") and "类型：党课" in line and "王芳" in line for line in lines)


def test_a_member_edit_shows_the_fields_and_masks_the_phone_for_the_leader(client, personas, tree, secretary):
    member = make_member(tree.a1, None, id_number(9), name="李红", phone="13800001111", work_unit="村委会")
    client.force_login(secretary)
    data = {"name": "李红", "id_number": member.id_number, "ethnicity": "汉族", "education": "",
            "phone": "13900002222", "work_unit": "镇卫生院", "dues_kind": member.dues_kind, "dues_base": "3000",
            "lost_contact_on": "", "note": ""}  # fmt: skip
    assert client.post(reverse("members:edit", args=[member.pk]), data).status_code == 302

    admin_line = next(
        line
        for line in entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="member"))
        if "修改" in line
    )
    assert "工作单位及职务：村委会 → 镇卫生院" in admin_line and "王芳" in admin_line
    assert "联系电话：13800001111 → 13900002222" in admin_line
    leader_line = next(
        line
        for line in entry_lines(log(client, personas[Role.TOWNSHIP_LEADER], kind="member"))
        if "修改" in line
    )
    assert "联系电话：138****1111 → 139****2222" in leader_line
    assert "13900002222" not in log(client, personas[Role.TOWNSHIP_LEADER]).content.decode()


def test_a_grade_change_in_the_review_shows_both_grades(client, personas, tree, people, secretary):
    campaign = make_campaign(tree.a1, grades={})
    participants = list(
        campaign.participants.filter(exempt_reason="")
        .select_related("member")
        .order_by("member__name_initials", "member__name", "pk")
    )
    client.force_login(secretary)
    data = {"form-TOTAL_FORMS": len(participants), "form-INITIAL_FORMS": len(participants),
            "ballots_issued": "10", "ballots_returned": "9"}  # fmt: skip
    for i, p in enumerate(participants):
        data.update(
            {f"form-{i}-participant": p.pk, f"form-{i}-votes_qualified": "9", f"form-{i}-grade": "qualified"}
        )
    data.update({"form-1-grade": "basic", "form-1-grade_reason": "学习不够主动"})
    assert client.post(reverse("reviews:results", args=[campaign.pk]), data).status_code == 302

    lines = entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="review", action="changed"))
    graded = participants[1].member.name
    [line] = [line for line in lines if "王芳" in line and "参评党员" in line]
    assert (
        graded in line and "组织评定：合格 → 基本合格" in line and "评定理由：（空） → 学习不够主动" in line
    )


def test_a_rule_setting_is_listed_with_its_values_in_its_township_only(client, personas, tree):
    admin = personas[Role.TOWNSHIP_ADMIN]
    admin.last_name, admin.first_name = "赵", "组织员"
    admin.save()
    client.force_login(admin)
    data = {
        "organisation": tree.township.pk,
        "rule": "theme_day",
        "enabled": "0",
        "effective_from": "2026-01-01",
        "confirm_rejudge": "1",  # a date before the current period: the page asks to confirm
    }
    assert client.post(reverse("compliance:settings"), data).status_code == 302

    [line] = entry_lines(log(client, admin, kind="setting"))
    assert (
        line.startswith("新增 规则设置") and "甲镇党委" in line and "启用：否" in line and "组织员 赵" in line
    )
    other = make_user("乙镇组织员", Role.TOWNSHIP_ADMIN, tree.other_township)
    assert entry_lines(log(client, other, kind="setting")) == ["没有符合筛选条件的操作记录。"]
    assert RuleSetting.objects.count() == 1


def test_dissolving_a_branch_shows_as_dissolved_with_the_reason(client, personas, tree):
    admin = personas[Role.TOWNSHIP_ADMIN]
    client.force_login(admin)
    response = client.post(
        reverse("branches:dissolve", args=[tree.a2.pk]),
        {"dissolved_on": "2026-11-30", "reason": "村党组织合并"},
    )
    assert response.status_code == 302
    [entry] = [
        e for e in log(client, admin, kind="organisation").context["page"].entries if e.action == "撤销"
    ]
    assert entry.label == "甲村党支部" and entry.reason == "村党组织合并" and entry.note == ""
    assert entry.url == reverse("branches:detail", args=[tree.a2.pk])


def test_a_change_to_a_record_older_than_its_history_says_so(client, personas, tree, people, secretary):
    meeting = general_meeting(tree, people, topic="旧会议")
    Meeting.history.filter(id=meeting.pk).delete()  # as for records loaded in bulk, without history
    client.force_login(secretary)
    edit(client, meeting, topic="旧会议（更正）")
    [line] = [
        line
        for line in entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="meeting"))
        if "修改 会议 " in line
    ]
    assert "修改前的内容没有留存" in line and "内容未变" not in line
    # Its first kept state being void, that change was the void.
    older = general_meeting(tree, people, topic="更旧的会议")
    Meeting.history.filter(id=older.pk).delete()
    client.post(reverse("meetings:void", args=[older.pk]), {"reason": "重复录入"})
    [entry] = [e for e in log(client, personas[Role.TOWNSHIP_ADMIN], kind="meeting").context["page"].entries
               if e.what == "会议" and e.label.endswith("更旧的会议")]  # fmt: skip
    assert (entry.action, entry.reason, entry.before_unknown) == ("作废", "重复录入", False)


def test_the_records_page_keeps_to_changes_and_links_the_full_history(
    client, personas, tree, people, secretary
):
    meeting = general_meeting(tree, people, topic="学习党章")
    client.force_login(secretary)
    edit(client, meeting, attendance={people[1]: "leave"}, **{f"reason_{people[1].pk}": "住院"})
    detail = client.get(reverse("meetings:detail", args=[meeting.pk]))
    shown = [(e.action, e.what) for e in detail.context["history"].entries]
    assert ("修改", "出勤") in shown and ("新增", "会议") in shown and ("新增", "出勤") not in shown
    assert "出勤：出席 → 请假" in text(detail) and "请假事由：（空） → 住院" in text(detail)
    full = client.get(reverse("audit:meeting", args=[meeting.pk]))
    assert f'href="{reverse("audit:meeting", args=[meeting.pk])}"' in detail.content.decode()
    assert sum(1 for e in full.context["page"].entries if (e.action, e.what) == ("新增", "出勤")) == 4


# ---------------------------------------------------------------- scope


def test_another_townships_edits_never_show(client, personas, tree, people):
    stranger = make_member(tree.b1, None, id_number(50), name="乙村党员")
    theirs = make_meeting(tree.b1, None, [stranger], types=("theme_day",), topic="乙镇的会", attachment=False)
    other_admin = make_user("乙镇组织员", Role.TOWNSHIP_ADMIN, tree.other_township)
    client.force_login(other_admin)
    edit(client, theirs, topic="乙镇改过的会")
    ours = general_meeting(tree, people, topic="甲镇的会")

    page = text(log(client, personas[Role.TOWNSHIP_ADMIN]))
    assert "甲镇的会" in page and "乙村党员" not in page and "乙镇" not in page
    their_page = text(log(client, other_admin))
    assert "乙镇改过的会" in their_page and "甲镇的会" not in their_page
    # An instructor sees the branches assigned to them, not the rest of the township.
    a2_member = make_member(tree.a2, None, id_number(51), name="甲村党员")
    instructor_page = text(log(client, personas[Role.INSTRUCTOR], kind="member"))
    assert "党员0" in instructor_page and a2_member.name not in instructor_page
    # The history of an out-of-scope record is a 404, as the record is.
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    assert client.get(reverse("audit:meeting", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("audit:member", args=[stranger.pk])).status_code == 404
    assert client.get(reverse("audit:meeting", args=[ours.pk])).status_code == 200


def test_branch_roles_see_a_records_history_but_not_the_log(client, personas, tree, people, secretary):
    meeting = general_meeting(tree, people, topic="学习党章")
    client.force_login(secretary)
    edit(client, meeting, topic="学习党章（补充）")
    assert client.get(LOG).status_code == 403
    assert "操作记录" not in client.get(reverse("meetings:list")).content.decode()
    detail = client.get(reverse("meetings:detail", args=[meeting.pk]))
    assert "修改历史" in text(detail) and "主题：学习党章 → 学习党章（补充）" in text(detail)
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    assert f'href="{LOG}"' in client.get(reverse("meetings:list")).content.decode()


def test_a_members_page_shows_its_history_with_their_records(client, personas, tree, secretary):
    member = make_member(tree.a1, None, id_number(8), name="张伟")
    client.force_login(secretary)
    client.post(
        reverse("members:action", args=[member.pk, "report"]),
        {"received_on": "2026-03-01", "title": "学习体会"},
    )
    report = member.thought_reports.get()
    client.post(reverse("members:void", args=[member.pk, "report", report.pk]), {"reason": "登记错了人"})

    detail = text(client.get(reverse("members:detail", args=[member.pk])))
    assert "修改历史" in detail and "作废 思想汇报" in detail and "作废原因：登记错了人" in detail
    own = make_user("zhangwei", Role.MEMBER, tree.a1)
    member.user = own
    member.save()
    client.force_login(own)
    assert client.get(reverse("audit:member", args=[member.pk])).status_code == 200


# ---------------------------------------------------------------- filters, paging, time, empty


def _at(day, hour=10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _dated(meeting, when):
    Meeting.history.filter(id=meeting.pk).update(history_date=when)
    Attendance.history.filter(meeting_id=meeting.pk).update(history_date=when)
    meeting.types.model.history.filter(meeting_id=meeting.pk).update(history_date=when)


def test_filters_by_branch_editor_dates_and_kind(client, personas, tree, people, secretary):
    in_a1 = general_meeting(tree, people, topic="一支部的会")
    a2_people = [make_member(tree.a2, None, id_number(20), name="甲村党员")]
    in_a2 = make_meeting(
        tree.a2, None, a2_people, types=("general_meeting",), topic="村支部的会", attachment=False
    )
    client.force_login(secretary)
    edit(client, in_a1, topic="一支部改过的会")
    _dated(in_a2, _at(date(2026, 3, 5)))
    admin = personas[Role.TOWNSHIP_ADMIN]

    by_branch = text(log(client, admin, org=tree.a2.pk, kind="meeting"))
    assert "村支部的会" in by_branch and "一支部" not in by_branch
    by_editor = log(client, admin, editor=secretary.pk)
    assert {e.editor for e in by_editor.context["page"].entries} == {secretary}
    assert "一支部改过的会" in text(by_editor)
    by_system = log(client, admin, editor="system", kind="meeting")
    assert {e.editor for e in by_system.context["page"].entries} == {None}
    march = log(client, admin, since="2026-03-01", until="2026-03-05")
    assert {e.at.date() for e in march.context["page"].entries} == {date(2026, 3, 5)}
    assert "村支部的会" in text(march) and "甲村党员" in text(march)
    assert "村支部的会" not in text(log(client, admin, since="2026-03-06"))
    only_attendance = log(client, admin, kind="attendance").context["page"].entries
    assert only_attendance and {e.what for e in only_attendance} == {"出勤"}
    # A branch outside the office's scope is not a filter: it is ignored, nothing of it is shown.
    assert "乙" not in text(log(client, admin, org=tree.b1.pk, kind="meeting"))


def test_times_are_shown_in_shanghai(client, personas, tree, people):
    meeting = general_meeting(tree, people, topic="晚上的会")
    Meeting.history.filter(id=meeting.pk).update(
        history_date=datetime(2026, 11, 20, 18, 30, tzinfo=timezone.get_fixed_timezone(0))
    )
    lines = entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="meeting"))
    assert any("晚上的会" in line and "2026-11-21 02:30" in line for line in lines)


def test_fifty_a_page_newest_first(client, personas, tree, people):
    meeting = general_meeting(tree, people)
    for i in range(60):
        meeting_services.review_meeting(meeting=meeting, decision="returned", comment=f"第{i}次退回")
    admin = personas[Role.TOWNSHIP_ADMIN]
    first = log(client, admin, kind="meeting").context["page"]
    second = log(client, admin, kind="meeting", page=2).context["page"]
    assert len(first.entries) == 50 and first.has_next and not first.has_previous
    assert second.has_previous and not second.has_next
    moments = [e.at for e in first.entries + second.entries]
    assert moments == sorted(moments, reverse=True)
    assert "审核意见：第58次退回 → 第59次退回" in [
        f"{c.label}：{c.old} → {c.new}" for c in first.entries[0].changes
    ]


def test_empty_state(client, personas, tree):
    admin = personas[Role.TOWNSHIP_ADMIN]
    assert entry_lines(log(client, admin, since="2099-01-01")) == ["没有符合筛选条件的操作记录。"]
    assert "清除筛选" in text(log(client, admin, since="2099-01-01"))
    other = make_user("乙镇组织员", Role.TOWNSHIP_ADMIN, tree.other_township)
    tree.other_township.history.model.objects.filter(id__in=[tree.other_township.pk, tree.b1.pk]).delete()
    RoleAssignment.history.filter(user=other).delete()  # their own grant is a record of the township too
    assert entry_lines(log(client, other)) == ["您的范围内还没有任何操作记录。"]


# ---------------------------------------------------------------- query count


def test_the_log_reads_a_constant_number_of_queries(client, personas, tree, people, secretary):
    """The secretary's edits (two entries each: the meeting and one attendance row) under every model's search."""
    admin = personas[Role.TOWNSHIP_ADMIN]
    done = []

    def edits(n):
        for _ in range(n):
            i = len(done)
            day = date(2026, 10, 1 + i % 28)
            meeting = general_meeting(tree, people, topic=f"会议{i}", held_on=day, now=_at(day))
            client.force_login(secretary)
            edit(client, meeting, topic=f"改过的会议{i}", attendance={people[i % 4]: "absent"})
            done.append(meeting)

    def measured():
        client.force_login(admin)
        client.get(LOG, {"editor": secretary.pk})  # warm caches (content types, session)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LOG, {"editor": secretary.pk})
        return len(queries), response.context["page"].entries

    edits(3)
    few, few_entries = measured()
    edits(25)
    many, many_entries = measured()
    assert len(few_entries) == 6 and len(many_entries) == 50
    assert {e.what for e in many_entries} == {"会议", "出勤"}
    assert many == few


def test_role_grants_and_withdrawals_are_listed_in_their_township_only(client, personas, tree):
    granted = make_user("newsec", first_name="李明")
    assignment = RoleAssignment.objects.create(user=granted, organisation=tree.a2, role=Role.SECRETARY)
    assignment.delete()
    theirs = make_user("theirsec", first_name="陈刚")
    RoleAssignment.objects.create(user=theirs, organisation=tree.b1, role=Role.SECRETARY)
    other_admin = make_user("乙镇组织员2", Role.TOWNSHIP_ADMIN, tree.other_township)

    lines = [
        line
        for line in entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="role"))
        if "李明" in line
    ]
    assert len(lines) == 2
    withdrawn, added = lines  # newest first
    assert "删除" in withdrawn and "新增" in added
    assert all(f"李明 · {tree.a2.name} · 支部书记" in line for line in lines)
    assert "陈刚" not in text(log(client, personas[Role.TOWNSHIP_ADMIN], kind="role"))
    their_page = text(log(client, other_admin, kind="role"))
    assert "陈刚" in their_page and "李明" not in their_page


def test_a_transfer_between_branches_is_listed_with_its_letter(client, personas, tree, people):
    from members import services as member_services

    member_services.move_member(
        member=people[0], branch=tree.a2, on=date(2026, 10, 8), letter_no="甲组转字第7号"
    )
    [line] = [
        line
        for line in entry_lines(log(client, personas[Role.TOWNSHIP_ADMIN], kind="member"))
        if "内部调整" in line
    ]
    assert "党员0 · 内部调整（2026-10-08）" in line and "新增" in line
    assert tree.a1.name in line and tree.a2.name in line and "甲组转字第7号" in line
    # The member's own history lists it too.
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    assert "甲组转字第7号" in text(client.get(reverse("audit:member", args=[people[0].pk])))


def test_a_grant_cannot_be_moved_in_the_admin_site_only_withdrawn(client, personas, tree):
    """A move would show in neither township's log as what it is: it is a withdrawal and a new grant."""
    grant = RoleAssignment.objects.create(
        user=make_user("movable"), organisation=tree.b1, role=Role.SECRETARY
    )
    client.force_login(personas["superuser"])
    url = reverse("admin:branches_roleassignment_change", args=[grant.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="organisation"' not in page.content.decode()
    client.post(
        url, {"organisation": tree.a1.pk, "role": Role.TOWNSHIP_ADMIN, "user": personas["superuser"].pk}
    )
    grant.refresh_from_db()
    assert (grant.organisation, grant.role, grant.user.username) == (tree.b1, Role.SECRETARY, "movable")


def test_a_corrected_development_event_date_is_in_the_log_with_both_dates(client, personas, tree, secretary):
    from members import services as member_services

    applicant = make_member(tree.a1, None, id_number(9), name="李申请", category="applicant",
                            applied_on=date(2026, 3, 2))  # fmt: skip
    member_services.record_pipeline_event(member=applicant, kind="talk", happened_on=date(2026, 3, 20))
    event = applicant.pipeline_events.get()
    member_services.correct_pipeline_date(member=applicant, key=f"event:{event.pk}", on=date(2026, 3, 12),
                                          reason="谈话记录日期抄错")  # fmt: skip
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    lines = [line for line in entry_lines(client.get(LOG)) if "李申请" in line and "谈话" in line]
    assert any("2026-03-20" in line and "2026-03-12" in line for line in lines), lines
