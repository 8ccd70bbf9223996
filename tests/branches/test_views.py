"""The organisation pages, through the test client: what the township office and the branches see."""

from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches import services
from branches.models import CommitteePosition, CommitteeTerm, Organisation, OrgKind, OrgLevel, Role
from tests.conftest import make_org, make_user

NEW_BRANCH = {
    "name": "甲镇卫生院党支部",
    "level": "branch",
    "kind": "public_institution",
    "founded_on": "2015-05-01",
}


@pytest.fixture
def office(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


def _fresh(org):
    return Organisation.objects.get(pk=org.pk)


# --- create -------------------------------------------------------------------------------------


def test_office_creates_a_branch_and_lands_on_its_page(office, tree):
    response = office.post(reverse("branches:create", args=[tree.township.pk]), NEW_BRANCH)
    created = Organisation.objects.get(name="甲镇卫生院党支部")
    assert response.status_code == 302
    assert response["Location"] == reverse("branches:detail", args=[created.pk])
    assert Organisation.objects.get_parent(created) == tree.township
    assert created.level == OrgLevel.BRANCH and created.kind == OrgKind.PUBLIC_INSTITUTION
    page = office.get(response["Location"]).content.decode()
    assert "已设立“甲镇卫生院党支部”。" in page


def test_create_form_offers_only_levels_allowed_under_the_parent(office, tree):
    page = office.get(reverse("branches:create", args=[tree.a1.pk])).content.decode()
    assert 'value="group"' in page
    assert 'value="branch"' not in page and 'value="party_committee"' not in page


def test_create_with_an_empty_name_shows_an_error_and_creates_nothing(office, tree):
    count = Organisation.objects.count()
    response = office.post(reverse("branches:create", args=[tree.township.pk]), {**NEW_BRANCH, "name": "  "})
    assert response.status_code == 200
    assert "这个字段是必填项。" in response.content.decode()
    assert Organisation.objects.count() == count


def test_create_a_group_under_a_party_committee_forced_in_post_is_refused(office, tree):
    count = Organisation.objects.count()
    response = office.post(
        reverse("branches:create", args=[tree.township.pk]),
        {**NEW_BRANCH, "name": "乱设小组", "level": "group"},
    )
    assert response.status_code == 200
    assert "选择一个有效的选项" in response.content.decode()
    assert Organisation.objects.count() == count


def test_create_with_a_duplicate_name_shows_the_services_error(office, tree):
    response = office.post(
        reverse("branches:create", args=[tree.township.pk]), {**NEW_BRANCH, "name": "甲村党支部"}
    )
    assert response.status_code == 200
    assert "同一上级下已有名为“甲村党支部”的党组织。" in response.content.decode()
    assert Organisation.objects.filter(name="甲村党支部").count() == 1


def test_nothing_can_be_created_under_a_group(office, tree):
    response = office.get(reverse("branches:create", args=[tree.g1.pk]))
    assert response["Location"] == reverse("branches:detail", args=[tree.g1.pk])
    assert "党小组下不能再设立下级党组织。" in office.get(response["Location"]).content.decode()


# --- edit, move, dissolve -----------------------------------------------------------------------


def test_office_renames_a_branch(office, tree):
    response = office.post(
        reverse("branches:edit", args=[tree.a2.pk]),
        {"name": "甲村联合党支部", "kind": "village", "founded_on": "2010-01-01", "merged_group": "on"},
    )
    assert response["Location"] == reverse("branches:detail", args=[tree.a2.pk])
    a2 = _fresh(tree.a2)
    assert a2.name == "甲村联合党支部"
    assert a2.history.order_by("history_date", "history_id").first().name == "甲村党支部"


def test_edit_to_a_siblings_name_is_refused(office, tree):
    response = office.post(
        reverse("branches:edit", args=[tree.g2.pk]),
        {"name": "第一党小组", "kind": "community", "founded_on": "2010-01-01"},
    )
    assert response.status_code == 200
    assert "同一上级下已有名为“第一党小组”的党组织。" in response.content.decode()
    assert _fresh(tree.g2).name == "第二党小组"


def test_office_moves_a_branch(office, tree):
    response = office.post(reverse("branches:move", args=[tree.a1.pk]), {"new_parent": tree.township.pk})
    assert response["Location"] == reverse("branches:detail", args=[tree.a1.pk])
    assert Organisation.objects.get_parent(_fresh(tree.a1)) == tree.township
    assert Organisation.objects.get_parent(_fresh(tree.g1)) == _fresh(tree.a1)
    page = office.get(response["Location"]).content.decode()
    assert "由“甲社区党委”移至“甲镇党委”" in page


def test_move_form_does_not_offer_own_subtree_or_wrong_levels(office, tree):
    elsewhere = make_org(tree.township, "甲镇工业园党委", OrgLevel.PARTY_COMMITTEE)
    page = office.get(reverse("branches:move", args=[tree.community.pk])).content.decode()
    assert f'value="{elsewhere.pk}"' in page
    assert f'value="{tree.township.pk}"' not in page  # where it already is
    assert f'value="{tree.a1.pk}"' not in page and f'value="{tree.g1.pk}"' not in page


def test_a_group_is_not_offered_its_own_branch_nor_a_merged_one(office, tree):
    other = make_org(tree.township, "甲镇卫生院党支部", kind=OrgKind.PUBLIC_INSTITUTION)
    page = office.get(reverse("branches:move", args=[tree.g1.pk])).content.decode()
    assert f'value="{other.pk}"' in page
    assert f'value="{tree.a1.pk}"' not in page  # its own branch
    assert f'value="{tree.a2.pk}"' not in page  # 支组合一: no groups there
    forced = office.post(reverse("branches:move", args=[tree.g1.pk]), {"new_parent": tree.a2.pk})
    assert forced.status_code == 200 and "选择一个有效的选项" in forced.content.decode()
    assert Organisation.objects.get_parent(_fresh(tree.g1)) == tree.a1


def test_merged_group_is_refused_on_a_branch_with_groups_and_groups_under_a_merged_branch(office, tree):
    data = {"name": tree.a1.name, "kind": tree.a1.kind, "founded_on": "2010-01-01", "merged_group": "on"}
    response = office.post(reverse("branches:edit", args=[tree.a1.pk]), data)
    assert response.status_code == 200
    assert "该支部设有党小组“第一党小组”、“第二党小组”，不能设为支组合一" in response.content.decode()
    assert _fresh(tree.a1).merged_group is False
    created = office.post(reverse("branches:create", args=[tree.a2.pk]),
                          {"name": "第一党小组", "level": "group", "kind": "village", "founded_on": "2015-05-01"})  # fmt: skip
    assert created.status_code == 200
    assert "“甲村党支部”为支组合一的党支部，不设党小组" in created.content.decode()
    assert not Organisation.objects.get_children(_fresh(tree.a2)).exists()


def test_search_names_each_group_with_its_branch_and_shows_committees(office, tree):
    services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 1), positions=[("secretary", "甲书记")]
    )
    other = make_org(tree.township, "甲镇卫生院党支部", kind=OrgKind.PUBLIC_INSTITUTION)
    make_org(other, "第一党小组", OrgLevel.GROUP)
    page = office.get(reverse("branches:tree"), {"q": "第一党小组"}).content.decode()
    assert "甲社区第一党支部 · 第一党小组" in page and "甲镇卫生院党支部 · 第一党小组" in page
    found = office.get(reverse("branches:tree"), {"q": "甲社区第一"}).content.decode()
    assert "书记 甲书记" in found and "未录入委员会" not in found
    few = _queries(office, reverse("branches:tree") + "?q=第一党小组")[0]
    for i in range(5):
        make_org(make_org(tree.township, f"新支部{i}"), "第一党小组", OrgLevel.GROUP)
    assert _queries(office, reverse("branches:tree") + "?q=第一党小组")[0] == few


@pytest.mark.parametrize("name", ["edit", "move", "dissolve", "create"])
def test_form_pages_have_the_organisations_breadcrumb_path(office, tree, name):
    page = office.get(reverse(f"branches:{name}", args=[tree.g1.pk] if name != "create" else [tree.a1.pk]))
    nav = page.content.decode().split('aria-label="breadcrumb"')[1].split("</nav>")[0]
    for ancestor in (tree.township, tree.community, tree.a1):
        assert f'href="{reverse("branches:detail", args=[ancestor.pk])}">{ancestor.name}</a>' in nav


def test_move_under_own_branch_forced_in_post_is_refused(office, tree):
    response = office.post(reverse("branches:move", args=[tree.community.pk]), {"new_parent": tree.a1.pk})
    assert response.status_code == 200
    assert "选择一个有效的选项" in response.content.decode()
    assert Organisation.objects.get_parent(_fresh(tree.community)) == tree.township


def test_office_dissolves_a_branch(office, tree):
    response = office.post(
        reverse("branches:dissolve", args=[tree.a1.pk]), {"dissolved_on": "2025-01-01", "reason": "社区合并"}
    )
    assert response["Location"] == reverse("branches:detail", args=[tree.a1.pk])
    assert _fresh(tree.a1).dissolved_on == date(2025, 1, 1)
    assert _fresh(tree.g1).dissolved_on == date(2025, 1, 1)
    page = office.get(response["Location"]).content.decode()
    assert "已撤销" in page and "社区合并" in page


def test_dissolving_a_branch_with_members_or_before_its_records_shows_why_not(office, branch, tree):
    url = reverse("branches:dissolve", args=[branch.pk])
    early = office.post(url, {"dissolved_on": "2020-06-01", "reason": "合并"})
    assert early.status_code == 200
    assert "该组织最近一次换届选举于2024-01-05，撤销日期不能早于该日期。" in early.content.decode()
    assert 'value="2020-06-01"' in early.content.decode()  # the input is kept
    held = office.post(url, {"dissolved_on": "2026-12-01", "reason": "合并"})
    assert "该组织仍有在册党员 4 人，请先办理转出或调整党小组后再撤销。" in held.content.decode()
    assert _fresh(branch).is_active
    assert "党员0" in office.get(reverse("members:list")).content.decode()


def test_dissolving_a_committee_with_active_branches_shows_why_not(office, tree):
    response = office.post(
        reverse("branches:dissolve", args=[tree.community.pk]),
        {"dissolved_on": "2025-01-01", "reason": "撤并"},
    )
    assert response.status_code == 200
    assert "请先撤销或移走下级党组织：甲社区第一党支部" in response.content.decode()
    assert _fresh(tree.community).is_active


def test_dissolved_branch_disappears_from_the_tree_unless_asked_for(office, tree):
    office.post(
        reverse("branches:dissolve", args=[tree.a2.pk]), {"dissolved_on": "2025-01-01", "reason": "合并"}
    )
    link = f'href="{reverse("branches:detail", args=[tree.a2.pk])}"'
    assert link not in office.get(reverse("branches:tree")).content.decode()
    assert link in office.get(reverse("branches:tree"), {"dissolved": "1"}).content.decode()


# --- terms --------------------------------------------------------------------------------------


def test_office_records_an_election_and_the_page_shows_the_secretary(office, tree):
    response = office.post(
        reverse("branches:term_create", args=[tree.a2.pk]),
        {"elected_on": "2024-05-01", "pos_secretary": "钱书记", "pos_organisation": "孙委员"},
    )
    assert response["Location"] == reverse("branches:detail", args=[tree.a2.pk])
    page = office.get(response["Location"]).content.decode()
    assert "钱书记" in page and "孙委员" in page
    assert "2029-05-01 届满" in page  # a village branch serves five years


def test_a_nonsense_term_end_is_refused_on_the_page(office, tree):
    response = office.post(
        reverse("branches:term_create", args=[tree.a2.pk]),
        {"elected_on": "2021-05-01", "ends_on": "2099-05-01", "pos_secretary": "钱书记"},
    )
    assert response.status_code == 200
    assert "届满日期不能晚于2026-05-01：该党组织每届任期5年，自选举日期起算。" in response.content.decode()
    assert not CommitteeTerm.objects.filter(organisation=tree.a2).exists()


def test_an_earlier_term_entered_through_the_page_does_not_sit_again(office, tree):
    services.record_term(
        organisation=tree.a2, elected_on=date(2021, 3, 1), positions=[("secretary", "新书记")]
    )
    office.post(reverse("branches:term_create", args=[tree.a2.pk]),
                {"elected_on": "2016-03-01", "pos_secretary": "老书记"})  # fmt: skip
    assert CommitteePosition.objects.get(holder_name="老书记").ended_on == date(2021, 3, 1)
    page = office.get(reverse("branches:tree")).content.decode()
    assert "书记 新书记" in page and "书记 老书记" not in page


def test_the_founding_date_cannot_be_moved_after_the_first_election(office, tree):
    services.record_term(
        organisation=tree.a2, elected_on=date(2019, 1, 1), positions=[("secretary", "王书记")]
    )
    data = {"name": tree.a2.name, "kind": tree.a2.kind, "founded_on": "2020-01-01", "merged_group": "on"}
    response = office.post(reverse("branches:edit", args=[tree.a2.pk]), data)
    assert response.status_code == 200
    assert "成立日期不能晚于该组织最早的记录：2019-01-01的换届选举。" in response.content.decode()
    assert _fresh(tree.a2).founded_on == date(2010, 1, 1)


def test_election_without_any_holder_is_refused(office, tree):
    response = office.post(reverse("branches:term_create", args=[tree.a2.pk]), {"elected_on": "2024-05-01"})
    assert response.status_code == 200
    assert "请至少填写一名委员" in response.content.decode()
    assert not CommitteeTerm.objects.filter(organisation=tree.a2).exists()


def test_editing_a_past_term_shows_its_holders(office, tree):
    services.record_term(
        organisation=tree.a2, elected_on=date(2019, 1, 1), positions=[("secretary", "赵书计")]
    )
    services.record_term(
        organisation=tree.a2, elected_on=date(2024, 1, 1), positions=[("secretary", "钱书记")]
    )
    old = CommitteeTerm.objects.get(organisation=tree.a2, elected_on=date(2019, 1, 1))
    page = office.get(reverse("branches:term_edit", args=[old.pk])).content.decode()
    assert 'value="赵书计"' in page


def test_correcting_the_secretarys_name_through_the_page(office, tree):
    term = services.record_term(
        organisation=tree.a2, elected_on=date(2024, 1, 1), positions=[("secretary", "赵书计")]
    )
    office.post(
        reverse("branches:term_edit", args=[term.pk]),
        {"ends_on": "2029-01-01", "pos_secretary": "赵书记", "change": "correction"},
    )
    assert list(CommitteePosition.objects.values_list("holder_name", flat=True)) == ["赵书记"]
    assert "赵书记" in office.get(reverse("branches:detail", args=[tree.a2.pk])).content.decode()


# --- access -------------------------------------------------------------------------------------


def test_secretary_cannot_edit_own_branch(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    assert client.get(reverse("branches:edit", args=[tree.a1.pk])).status_code == 403
    assert client.get(reverse("branches:detail", args=[tree.a1.pk])).status_code == 200


def test_secretary_gets_not_found_for_another_townships_branch(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    assert client.get(reverse("branches:edit", args=[tree.b1.pk])).status_code == 404
    assert client.get(reverse("branches:detail", args=[tree.b1.pk])).status_code == 404


def test_secretary_post_to_dissolve_changes_nothing(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("branches:dissolve", args=[tree.a1.pk]), {"dissolved_on": "2025-01-01", "reason": "x"}
    )
    assert response.status_code == 403
    assert _fresh(tree.a1).is_active


# --- home ---------------------------------------------------------------------------------------


def test_home_sends_the_township_office_to_the_dashboard(client, personas):
    for role in (Role.TOWNSHIP_ADMIN, Role.TOWNSHIP_LEADER, Role.INSTRUCTOR, "superuser"):
        client.force_login(personas[role])
        response = client.get("/")
        assert response.status_code == 302 and response["Location"] == reverse("dashboards:township")


def test_home_sends_a_secretary_and_the_committee_to_their_branch_home(client, personas, tree):
    for role in (Role.SECRETARY, Role.COMMITTEE_MEMBER):
        client.force_login(personas[role])
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"] == reverse("dashboards:branch", args=[tree.a1.pk])


def test_home_sends_a_group_leader_to_their_group(client, personas, tree):
    client.force_login(personas[Role.GROUP_LEADER])
    assert client.get("/")["Location"] == reverse("branches:detail", args=[tree.g1.pk])


def test_home_shows_a_member_their_branch(client, personas):
    client.force_login(personas[Role.MEMBER])
    response = client.get("/")
    assert response.status_code == 200
    assert "甲社区第一党支部" in response.content.decode()


def test_home_sends_anonymous_visitors_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- query counts -------------------------------------------------------------------------------


def _township(name, branches):
    """A township with `branches` branches, each with two groups and a committee term; and its office."""
    township = make_org(None, f"{name}镇党委", OrgLevel.PARTY_COMMITTEE, OrgKind.TOWNSHIP)
    for i in range(1, branches + 1):
        branch = make_org(township, f"{name}第{i}党支部")
        make_org(branch, "第一党小组", OrgLevel.GROUP)
        make_org(branch, "第二党小组", OrgLevel.GROUP)
        services.record_term(
            organisation=branch,
            elected_on=date(2024, 1, 1),
            positions=[("secretary", f"{name}书记{i}"), ("organisation", f"{name}委员{i}")],
        )
    client = Client()
    client.force_login(make_user(f"office-{name}", Role.TOWNSHIP_ADMIN, township))
    return township, client


def _queries(client, url):
    client.get(url)  # warm up per-process caches (content types, sessions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


@pytest.fixture
def small_and_large(db):
    return _township("小", 3), _township("大", 30)


def test_tree_page_queries_do_not_grow_with_the_number_of_branches(small_and_large):
    (_small, small_client), (_large, large_client) = small_and_large
    small_count, _ = _queries(small_client, reverse("branches:tree"))
    large_count, page = _queries(large_client, reverse("branches:tree"))
    assert "大书记30" in page and "大第30党支部" in page
    assert large_count == small_count


def test_detail_page_queries_do_not_grow_with_the_number_of_branches(small_and_large):
    (small, small_client), (large, large_client) = small_and_large
    small_count, _ = _queries(small_client, reverse("branches:detail", args=[small.pk]))
    large_count, page = _queries(large_client, reverse("branches:detail", args=[large.pk]))
    assert "大书记30" in page and "大第30党支部" in page
    assert large_count == small_count


def test_moving_a_group_says_its_members_go_along(office, tree):
    hint = "组内党员以今天的日期一并办理内部转接"
    assert hint in office.get(reverse("branches:move", args=[tree.g1.pk])).content.decode()
    assert hint not in office.get(reverse("branches:move", args=[tree.a1.pk])).content.decode()
