"""What a browser walkthrough of the meeting pages found: namesakes that looked alike, an empty 组织生活会 that
looked done, and a 党小组长's form full of what a 党小组会 does not have. `branch` (甲社区第一党支部) has
党员0–3 in 第一党小组; the 党小组长 persona leads 第一党小组."""

import re
import uuid
from datetime import date, datetime, time

import pytest
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from meetings import services
from members.idcard import check_character
from tests.conftest import make_meeting, make_member

TODAY = timezone.localdate()
HELD_ON = date(2026, 11, 20)


def idn(serial, birth):
    body = f"320102{birth}{serial:03d}"
    return body + check_character(body)


@pytest.fixture
def namesakes(tree, branch):
    """Two 谢伟: one in 第一党小组 born 1957, one in 第二党小组 born 1992 (as on the demo's branch)."""
    return (
        make_member(branch, tree.g1, idn(501, "19571211"), name="谢伟"),
        make_member(branch, tree.g2, idn(502, "19920514"), name="谢伟"),
    )


def login(client, personas, role):
    client.force_login(personas[role])
    return client


def record_url(**query):
    return reverse("meetings:create") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


# ---------------------------------------------------------------- namesakes told apart


def test_the_attendance_grid_tells_namesakes_apart_by_group_or_birth_year(client, personas, tree, branch,
                                                                          namesakes):  # fmt: skip
    first, second = namesakes
    secretary = login(client, personas, Role.SECRETARY)
    page = secretary.get(record_url(branch=branch.pk, type="theme_day"))
    labels = {item["row"].member_id: item["label"] for item in page.context["grid"]}
    assert labels[first.pk] == "谢伟（第一党小组）" and labels[second.pk] == "谢伟（第二党小组）"
    html = page.content.decode()
    assert 'aria-label="谢伟（第一党小组）出勤"' in html and 'aria-label="谢伟（第二党小组）出勤"' in html
    assert labels[branch.people[0].pk] == "党员0"  # a name of its own stays as it is

    # In one group's 党小组会 both namesakes sit in the same group: their birth years tell them apart.
    third = make_member(branch, tree.g1, idn(503, "19750301"), name="谢伟")
    page = secretary.get(record_url(branch=branch.pk, type="group_meeting"))
    data = {"types": ["group_meeting"], "group": tree.g1.pk, "held_on": TODAY.isoformat(), "refresh": "1",
            "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0", "token": uuid.uuid4().hex}  # fmt: skip
    grid = secretary.post(record_url(branch=branch.pk, type="group_meeting"), data).context["grid"]
    labels = {item["row"].member_id: item["label"] for item in grid}
    assert labels[first.pk] == "谢伟（1957年生）" and labels[third.pk] == "谢伟（1975年生）"
    assert second.pk not in labels


def test_the_meeting_page_names_each_namesake_in_the_attendance(client, personas, branch, namesakes):
    first, second = namesakes
    meeting = make_meeting(branch, None, [*branch.people, first], types=("theme_day",), held_on=HELD_ON,
                           attachment=False)  # fmt: skip
    html = login(client, personas, Role.SECRETARY).get(reverse("meetings:detail", args=[meeting.pk]))
    html = html.content.decode()
    present = re.search(r"出席：</span>(.*?)</div>", html, re.S).group(1)
    absent = re.search(r"缺席：</span>(.*?)</div>", html, re.S).group(1)
    assert "谢伟（第一党小组）" in present and "谢伟（第二党小组）" not in present
    assert absent.strip() == "谢伟（第二党小组）"


def test_the_talks_page_offers_and_lists_namesakes_apart(client, personas, branch, namesakes):
    first, second = namesakes
    [saved] = services.record_talks(branch=branch, talked_on=date(2026, 5, 6), pairs=[(branch.people[0], second,
                                    "谈工作")], today=TODAY).created  # fmt: skip
    secretary = login(client, personas, Role.SECRETARY)
    html = secretary.get(reverse("meetings:talks", args=[branch.pk]) + "?year=2026").content.decode()
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', html)
    assert (str(first.pk), "谢伟（第一党小组）") in options and (
        str(second.pk),
        "谢伟（第二党小组）",
    ) in options
    talk_list = re.search(r'id="talk-list">(.*?)</div>\s*{?', html, re.S).group(1)
    assert "党员0 与 谢伟（第二党小组）：谈工作" in talk_list
    missing = re.search(r'id="missing-members">(.*?)</ul>', html, re.S).group(1)
    assert (
        "谢伟（第一党小组）" in missing and "谢伟（第二党小组）" not in missing
    )  # the second was talked with

    form = secretary.get(reverse("meetings:talk_edit", args=[branch.pk, saved.pk])).context["form"]
    choices = dict(form.fields["counterpart"].choices)
    assert choices[second.pk] == "谢伟（第二党小组）" and choices[first.pk] == "谢伟（第一党小组）"
    assert "selected>谢伟（第二党小组）</option>" in str(form["counterpart"])


# ---------------------------------------------------------------- an empty 组织生活会 says what it lacks


def org_life(branch, **records):
    expected = services.attendance_list(branch=branch, types=["org_life_meeting"], held_on=HELD_ON)
    return services.record_meeting(
        branch=branch, types=["org_life_meeting"], held_on=HELD_ON, topic="年度组织生活会",
        attendance={row.member_id: ("present", "") for row in expected}, token=uuid.uuid4().hex,
        now=timezone.make_aware(datetime.combine(HELD_ON, time(20))), **{"for_year": 2026, **records},
    )  # fmt: skip


def warning_box(client, meeting):
    html = client.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    found = re.search(r'<div class="alert alert-warning small" id="org-life-missing">(.*?)</div>\s*</div>', html,
                      re.S)  # fmt: skip
    return re.sub(r"<[^>]+>", " ", found.group(0)) if found else "", html


def test_an_org_life_meeting_with_only_date_and_topic_says_what_is_missing(client, personas, branch):
    meeting = org_life(branch)
    secretary = login(client, personas, Role.SECRETARY)
    box, html = warning_box(secretary, meeting)
    assert "会前：征求意见、谈心谈话、对照检查材料" in box
    assert "会中：批评与自我批评" in box and "会后：整改清单、报告上级党委" in box
    assert f'href="{reverse("meetings:edit", args=[meeting.pk])}">修改记录，补充这些内容' in html

    # Partly filled: only what is still missing is listed, as the org_life_records reminder lists it.
    services.update_meeting(
        meeting=meeting, types=["org_life_meeting"], held_on=HELD_ON, topic=meeting.topic,
        attendance={a.member_id: (a.status, "") for a in meeting.attendance.all()},
        for_year=2026, opinions="征求意见12条", talks_summary="谈心谈话8人次", self_examination="对照检查",
        criticism="批评与自我批评", reported_on=HELD_ON,
    )  # fmt: skip
    box, _html = warning_box(secretary, meeting)
    assert "会后：整改清单" in box and "会前" not in box and "报告上级党委" not in box

    # The 党委 leader (read-only) sees the gap, without a link to change what they may not.
    box, html = warning_box(login(client, personas, Role.TOWNSHIP_LEADER), meeting)
    assert "整改清单" in box and "修改记录，补充这些内容" not in html


def test_a_complete_void_or_other_meeting_shows_no_such_warning(client, personas, branch):
    complete = org_life(branch, opinions="意见", talks_summary="谈话", self_examination="检查",
                        criticism="批评", reported_on=HELD_ON,
                        rectifications=[{"problem": "学习不够", "owner": "党员0", "due_on": date(2026, 12, 31)}])  # fmt: skip
    empty = org_life(branch)
    services.void_meeting(meeting=empty, reason="重复录入")
    theme_day = make_meeting(
        branch, None, branch.people, types=("theme_day",), held_on=HELD_ON, attachment=False
    )
    secretary = login(client, personas, Role.SECRETARY)
    for meeting in (complete, empty, theme_day):
        box, html = warning_box(secretary, meeting)
        assert box == "" and "组织生活会的记录还不完整" not in html


# ---------------------------------------------------------------- a 党小组长's form is a 党小组会's


def test_a_group_leader_records_a_group_meeting_on_a_form_for_it(client, personas, tree, branch):
    leader = login(client, personas, Role.GROUP_LEADER)
    page = leader.get(record_url(group=tree.g1.pk))
    html = page.content.decode()
    assert "记录党小组会 · 甲社区第一党支部 第一党小组" in html
    assert "主讲人" not in html and 'id="org-life-section"' not in html and "改期批准" not in html
    assert 'id="theme-day-note"' not in html and "补录原因" in html
    assert set(page.context["form"].fields) >= {"types", "group", "held_on", "topic", "backfill_reason"}

    data = {"types": ["group_meeting"], "group": tree.g1.pk, "held_on": TODAY.isoformat(), "topic": "小组学习",
            "token": page.context["form"].initial["token"], "grid_basis": page.context["grid_basis"],
            "rect-TOTAL_FORMS": "3", "rect-INITIAL_FORMS": "0", "lecturer": "不该有的主讲人",
            **{f"att_{item['row'].member_id}": "present" for item in page.context["grid"]}}  # fmt: skip
    assert re.findall(r'name="rect-TOTAL_FORMS"', html)  # sent with the form, hidden
    response = leader.post(record_url(group=tree.g1.pk), data)
    assert response.status_code == 302
    meeting = tree.g1.group_meetings.get()
    assert meeting.lecturer == "" and meeting.topic == "小组学习"  # what the form does not have is not saved


def test_the_secretary_keeps_every_section(client, personas, branch):
    html = login(client, personas, Role.SECRETARY).get(record_url(branch=branch.pk)).content.decode()
    assert "记录会议 · 甲社区第一党支部" in html
    assert (
        "主讲人（党课）" in html and 'id="org-life-section"' in html and "主题党日改期批准 / 补录原因" in html
    )
