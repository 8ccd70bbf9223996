"""Search boxes, filters and drill-down parameters of every list page, fed hostile query strings."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from meetings.models import Meeting
from tests.conftest import make_meeting
from tests.security.conftest import row_counts

HOSTILE_VALUES = {
    "sql_or": "' OR 1=1 --",
    "sql_drop": "1; DROP TABLE members_member; --",
    "sql_union": "0 UNION SELECT username FROM auth_user",
    "superscript": "²",
    "fullwidth": "１２",
    "negative": "-1",
    "huge": "99999999999999999999999999",
    "nul": "\x00",
    "bell": "\x07",
    "markup": "<script>alert(1)</script>",
    "like_wildcards": "%_%\\",
    "long": "长" * 3000,
    "bad_date": "2026-02-30",
    "ancient": "0001-01-01",
    "far_future": "9999-12-31",
    "emoji": "👨‍👩‍👧‍👦",
}

# (url name, args from the fixture, query parameters the view reads)
PAGES = [
    ("members:list", None, ["q", "branch", "group", "category", "status", "org", "off_roster", "page"]),
    (
        "meetings:list",
        None,
        ["q", "branch", "org", "since", "until", "year", "type", "state", "void", "page"],
    ),
    ("compliance:flags", None, ["branch", "rule", "state", "org", "watch", "page"]),
    ("compliance:checklist", "branch", ["on", "as_of"]),
    ("dashboards:township", None, ["org", "kind", "on", "rule", "state"]),
    ("dashboards:obligations", None, ["org", "kind", "on", "rule", "state"]),
    ("dashboards:pipeline", None, ["org", "kind", "on"]),
    ("dashboards:branch", "branch", ["on"]),
    ("reviews:overview", None, ["year", "page"]),
    ("ledgers:list", None, ["page"]),
    ("members:dues_month", "branch", ["month"]),
    ("meetings:talks", "branch", ["year"]),
    ("meetings:create", None, ["branch", "group", "type"]),
    ("members:training", "branch", ["q", "year", "void", "page"]),
]
AUDIT_PARAMS = ["kind", "org", "editor", "since", "until", "action", "page"]


def _url(name, arg, branch):
    return reverse(name, args=[branch.pk]) if arg == "branch" else reverse(name)


@pytest.fixture
def with_records(branch):
    make_meeting(branch, None, branch.people[:2], types=("theme_day",), topic="学习党章")
    return branch


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
@pytest.mark.parametrize(("name", "arg", "params"), PAGES, ids=[p[0] for p in PAGES])
def test_hostile_query_strings_never_break_a_page(secretary, office, personas, with_records, name, arg,
                                                  params, value):  # fmt: skip
    before = row_counts()
    url = _url(name, arg, with_records)
    for param in params:
        response = secretary.get(url, {param: value})
        assert response.status_code in (200, 404), (param, response.status_code)
        if response.status_code == 200 and "text/html" in response["Content-Type"]:
            html = response.content.decode()
            assert "<script>alert(1)</script>" not in html
    response = secretary.get(url, {p: [value, "1"] for p in params})  # every parameter twice
    assert response.status_code in (200, 404)
    assert row_counts() == before


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_hostile_query_strings_never_break_the_audit_log(office, with_records, value):
    before = row_counts()
    for param in AUDIT_PARAMS:
        response = office.get(reverse("audit:log"), {param: value})
        assert response.status_code == 200, (param, response.status_code)
        assert "<script>alert(1)</script>" not in response.content.decode()
    assert office.get(reverse("audit:log"), {p: [value, "1"] for p in AUDIT_PARAMS}).status_code == 200
    assert row_counts() == before


@pytest.mark.parametrize("value", ["' OR 1=1 --", "%", "_", "\\", "党员' --", '" OR ""="'])
def test_sql_looking_searches_find_nothing_rather_than_everyone(secretary, branch, value):
    page = secretary.get(reverse("members:list"), {"q": value})
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 0
    assert escape(value) in page.content.decode()  # the search box keeps what was typed, escaped


@pytest.mark.parametrize("value", ["\x00", "党员\x07"], ids=["nul", "bell"])
def test_a_search_with_control_characters_says_so_in_chinese(secretary, branch, value):
    from branches.text import UNSAFE_MESSAGE

    page = secretary.get(reverse("members:list"), {"q": value})
    assert page.status_code == 200 and UNSAFE_MESSAGE in page.content.decode()
    assert page.context["page"].paginator.count == 0  # a search that cannot run finds no one
    export = secretary.get(reverse("members:export"), {"q": value})
    assert export.status_code == 200 and UNSAFE_MESSAGE in export.content.decode()  # the list, not a file


def test_a_search_that_is_a_real_name_still_works(secretary, branch):
    page = secretary.get(reverse("members:list"), {"q": "党员1"})
    assert [m.name for m in page.context["page"].object_list] == ["党员1"]


def test_a_branch_id_with_sql_after_it_does_not_widen_the_meeting_list(secretary, with_records, tree):
    make_meeting(tree.b1, None, [], types=("theme_day",), topic="乙镇的会议", attachment=False)
    page = secretary.get(reverse("meetings:list"), {"branch": f"{tree.b1.pk} OR 1=1"})
    assert page.status_code == 200
    assert "乙镇的会议" not in page.content.decode()
    assert Meeting.objects.count() == 2


@pytest.mark.parametrize("value", ["1' OR '1'='1", "1e3", "0x10", " 1", "1\n"])
def test_export_and_status_endpoints_with_hostile_ids_are_404(secretary, branch, value):
    for name in ("ledgers:detail", "ledgers:status", "ledgers:download", "members:import_detail"):
        path = reverse(name, args=[1]).replace("/1/", f"/{value}/")
        assert secretary.get(path).status_code == 404


def test_the_export_status_endpoint_answers_json_with_no_cache(secretary, branch):
    response = secretary.post(reverse("ledgers:branch_export", args=[branch.pk]), {"year": "2026"})
    assert response.status_code == 302
    status = secretary.get(response["Location"].rstrip("/") + "/status/")
    assert status.status_code == 200 and status["Cache-Control"] == "no-store"
    assert status.json()["status"] == "done" and status.json()["download_url"]


def test_the_roster_export_with_hostile_filters_is_a_workbook_or_the_list_saying_why(secretary, branch):
    for value in HOSTILE_VALUES.values():
        params = {"q": value, "branch": value, "status": value}
        response = secretary.get(reverse("members:export"), params)
        assert response.status_code == 200, value
        if response["Content-Type"].startswith("text/html"):  # refused: the list says why and lists no one
            assert response.context["filter"].form.errors, value
            assert response.context["page"].paginator.count == 0
        else:
            assert response.content[:2] == b"PK", value
