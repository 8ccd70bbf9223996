"""A branch whose year the office has locked: its home says so instead of offering records the form refuses."""

import pytest
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from meetings import services as meeting_services


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def test_a_locked_year_is_announced_and_the_record_buttons_are_gone(secretary, tree):
    home = reverse("dashboards:branch", args=[tree.a1.pk])
    create = reverse("meetings:create")
    page = secretary.get(home).content.decode()
    assert f'href="{create}?branch={tree.a1.pk}"' in page and 'id="year-locked"' not in page
    meeting_services.set_year_lock(branch=tree.a1, year=timezone.localdate().year, locked=True)
    page = secretary.get(home).content.decode()
    assert 'id="year-locked"' in page and "年度台账已由党委锁定" in page
    assert f"{create}?branch={tree.a1.pk}" not in page  # neither 记录会议 nor 记录主题党日 nor a row's 记录


def test_locking_a_year_from_the_list_asks_first(client, personas, tree):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    year = timezone.localdate().year
    page = client.get(reverse("meetings:list"), {"branch": tree.a1.pk, "year": year}).content.decode()
    assert f'data-confirm="锁定{tree.a1.name}{year}年度台账？' in page and "js/confirm" in page


def test_a_returned_record_of_a_locked_year_says_it_waits_for_the_unlock(secretary, tree):
    from tests.compliance.conftest import idn
    from tests.conftest import make_meeting, make_member

    people = [make_member(tree.a1, tree.g1, idn(i), name=f"党员{i}") for i in range(3)]
    held_on = timezone.localdate().replace(day=1)
    meeting = make_meeting(tree.a1, None, people, types=("general_meeting",), held_on=held_on)
    meeting_services.review_meeting(meeting=meeting, decision="returned", comment="缺少会议记录照片")
    home = reverse("dashboards:branch", args=[tree.a1.pk])
    page = secretary.get(home).content.decode()
    assert "缺少会议记录照片" in page and "需党委解锁后才能修改" not in page
    meeting_services.set_year_lock(branch=tree.a1, year=meeting.held_on.year, locked=True)
    page = secretary.get(home).content.decode()
    assert (
        "缺少会议记录照片" in page and f"{meeting.held_on.year}年度台账已锁定，需党委解锁后才能修改" in page
    )
