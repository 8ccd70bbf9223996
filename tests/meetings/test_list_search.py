"""Finding a meeting on the list by what the secretary remembers of it: a word of its 主题, the place, who
led or spoke, a phrase of its record; every word must match, and the search keeps to the reader's scope."""

from datetime import date

import pytest
from django.urls import reverse

from branches.models import Role
from meetings.models import Meeting
from tests.conftest import make_meeting
from tests.meetings.test_meetings import at, people  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def meetings(tree, people):  # noqa: F811
    def hold(branch, day, topic, **details):
        return make_meeting(branch, None, people if branch == tree.a1 else [], types=("theme_day",),
                            held_on=date(2026, 10, day), attachment=False, now=at(date(2026, 10, day)),
                            topic=topic, **details)  # fmt: skip

    return {
        "charter": hold(tree.a1, 9, "学习党章", place="村委会会议室", host="王书记"),
        "history": hold(tree.a1, 16, "党史学习教育", place="红色教育基地", lecturer="李老师"),
        "rules": hold(tree.a1, 23, "学习纪律条例", content="通报了党章中关于纪律的规定"),
        "elsewhere": hold(tree.b1, 23, "学习党章"),  # another township's
    }


def _found(client, **params):
    return {
        m.topic + "@" + m.branch.name for m in client.get(reverse("meetings:list"), params).context["page"]
    }


def test_a_word_is_found_in_the_topic_the_place_the_people_or_the_record(client, personas, meetings):
    client.force_login(personas[Role.SECRETARY])
    assert _found(client, q="党章", year=2026) == {
        "学习党章@甲社区第一党支部",
        "学习纪律条例@甲社区第一党支部",
    }
    assert _found(client, q="会议室") == {"学习党章@甲社区第一党支部"}
    assert _found(client, q="李老师") == {"党史学习教育@甲社区第一党支部"}
    assert _found(client, q="王书记") == {"学习党章@甲社区第一党支部"}


def test_every_word_must_match(client, personas, meetings):
    client.force_login(personas[Role.SECRETARY])
    assert _found(client, q="党章  纪律") == {"学习纪律条例@甲社区第一党支部"}
    assert _found(client, q="党章 党史") == set()


def test_the_search_keeps_to_the_readers_scope(client, personas, meetings):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    assert "学习党章@乙村党支部" not in _found(client, q="党章")
    assert Meeting.objects.filter(topic="学习党章").count() == 2


def test_the_page_keeps_the_words_and_says_when_nothing_matched(client, personas, meetings):
    client.force_login(personas[Role.SECRETARY])
    html = client.get(reverse("meetings:list"), {"q": "换届选举", "year": 2026}).content.decode()
    assert 'value="换届选举"' in html and "2026年没有符合条件的记录（搜索“换届选举”）。" in html


def test_the_next_page_keeps_the_search(client, personas, tree, people):  # noqa: F811
    for day in range(1, 32):
        make_meeting(tree.a1, None, people, types=("party_lecture",), held_on=date(2026, 10, day),
                     attachment=False, now=at(date(2026, 10, day)), topic=f"党课第{day}讲", lecturer="书记")  # fmt: skip
    client.force_login(personas[Role.SECRETARY])
    html = client.get(reverse("meetings:list"), {"q": "党课", "year": 2026}).content.decode()
    assert "第 1 / 2 页" in html and "q=%E5%85%9A%E8%AF%BE&amp;" in html


def test_a_control_character_is_named_not_searched(client, personas, meetings):
    client.force_login(personas[Role.SECRETARY])
    response = client.get(reverse("meetings:list"), {"q": "党章\x00", "year": 2026})
    assert response.status_code == 200 and "含有无法保存的控制字符" in response.content.decode()
    assert response.context["page"].paginator.count == 3  # the list unfiltered, as without a search


def test_voided_records_are_found_with_the_status_filter(client, personas, meetings):
    from meetings import services

    services.void_meeting(meeting=meetings["history"], reason="重复录入")
    client.force_login(personas[Role.SECRETARY])
    html = client.get(reverse("meetings:list"), {"year": 2026}).content.decode()
    assert '<select class="form-select form-select-sm" id="f-void" name="void">' in html
    assert '<option value="1">含已作废</option>' in html and '<option value="only">仅已作废</option>' in html
    assert "党史学习教育@甲社区第一党支部" not in _found(client, year=2026)
    assert "党史学习教育@甲社区第一党支部" in _found(client, year=2026, void="1")
    assert _found(client, year=2026, void="only") == {"党史学习教育@甲社区第一党支部"}
    chosen = client.get(reverse("meetings:list"), {"year": 2026, "void": "only"}).content.decode()
    assert '<option value="only" selected>仅已作废</option>' in chosen
