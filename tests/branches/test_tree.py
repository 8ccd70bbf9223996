"""The organisation tree: create, move, dissolve, terms — through the services and the pages."""

from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches import services
from branches.models import (
    CommitteePosition,
    Organisation,
    OrgKind,
    OrgLevel,
    Role,
)
from members.models import Member, Transfer
from tests.conftest import make_org

SAMPLE_ROSTER = Path(__file__).resolve().parents[1] / "data" / "sample_roster.xlsx"


def test_a_group_only_under_a_branch(tree):
    with pytest.raises(ValidationError, match="党委下不能设立党小组"):
        make_org(tree.township, "乱设小组", OrgLevel.GROUP)
    with pytest.raises(ValidationError, match="党小组下不能设立党支部"):
        make_org(tree.g1, "乱设支部", OrgLevel.BRANCH)
    with pytest.raises(ValidationError, match="党支部必须设在上级党组织之下"):
        make_org(None, "孤立支部", OrgLevel.BRANCH)


def test_sibling_names_are_unique_and_merged_group_is_for_branches(tree):
    with pytest.raises(ValidationError, match="已有名为"):
        make_org(tree.township, "甲村党支部")
    with pytest.raises(ValidationError) as caught:
        make_org(tree.township, "乙社区党委", OrgLevel.PARTY_COMMITTEE, merged_group=True)
    assert "只有党支部可以设置为支组合一" in str(caught.value)


def test_move_a_branch_with_its_groups(tree):
    moved = services.move_organisation(organisation=tree.a1, new_parent=tree.township)
    assert Organisation.objects.get_parent(moved) == tree.township
    g1 = Organisation.objects.get(pk=tree.g1.pk)
    assert g1.path.startswith(moved.path) and g1.depth == moved.depth + 1
    assert moved.history.first().history_change_reason == "由“甲社区党委”移至“甲镇党委”"


def test_cannot_move_under_own_descendant_or_to_a_wrong_level(tree):
    with pytest.raises(ValidationError, match="不能移动到自身或其下级组织之下"):
        services.move_organisation(organisation=tree.community, new_parent=tree.a1)
    with pytest.raises(ValidationError, match="党支部下不能设立党支部"):
        services.move_organisation(organisation=tree.a2, new_parent=tree.a1)
    with pytest.raises(ValidationError, match="最上级党委不能移动"):
        services.move_organisation(organisation=tree.township, new_parent=tree.other_township)


def test_dissolve_keeps_everything_and_takes_the_groups_along(tree):
    count = Organisation.objects.count()
    with pytest.raises(ValidationError, match="请先撤销或移走下级党组织：甲社区第一党支部"):
        services.dissolve_organisation(
            organisation=tree.community, dissolved_on=date(2025, 1, 1), reason="合并"
        )
    services.dissolve_organisation(organisation=tree.a1, dissolved_on=date(2025, 1, 1), reason="社区合并")
    assert Organisation.objects.count() == count
    for org in Organisation.objects.filter(pk__in=[tree.a1.pk, tree.g1.pk, tree.g2.pk]):
        assert org.dissolved_on == date(2025, 1, 1) and org.dissolve_reason == "社区合并"
    with pytest.raises(ValidationError, match="已撤销"):
        make_org(tree.a1, "新小组", OrgLevel.GROUP)
    with pytest.raises(ValidationError, match="不能晚于今天"):
        services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2999, 1, 1), reason="x")


def test_terms_default_length_and_hand_over(tree):
    village = services.record_term(
        organisation=tree.a2, elected_on=date(2021, 3, 1), positions=[("secretary", "老书记")]
    )
    school = make_org(tree.township, "甲镇中学党支部", kind=OrgKind.SCHOOL)
    school_term = services.record_term(
        organisation=school, elected_on=date(2024, 6, 1), positions=[("secretary", "校书记")]
    )
    assert village.ends_on == date(2026, 3, 1) and school_term.ends_on == date(2027, 6, 1)
    enterprise_committee = make_org(
        tree.township, "甲镇工业园党委", OrgLevel.PARTY_COMMITTEE, OrgKind.PRIVATE_ENTERPRISE
    )
    committee_term = services.record_term(
        organisation=enterprise_committee, elected_on=date(2024, 6, 1), positions=[("secretary", "园书记")]
    )
    assert committee_term.ends_on == date(2029, 6, 1)  # every 基层党委 serves five years
    services.record_term(
        organisation=tree.a2, elected_on=date(2026, 3, 1), positions=[("secretary", "新书记")]
    )
    old = CommitteePosition.objects.get(holder_name="老书记")
    assert old.ended_on == date(2026, 3, 1)
    with pytest.raises(ValidationError, match="该日期已有一次换届记录"):
        services.record_term(
            organisation=tree.a2, elected_on=date(2026, 3, 1), positions=[("secretary", "又一个")]
        )
    with pytest.raises(ValidationError, match="党小组不设委员会"):
        services.record_term(
            organisation=tree.g1, elected_on=date(2026, 3, 1), positions=[("secretary", "x")]
        )


def test_correcting_a_term_keeps_the_old_name_in_history(tree):
    term = services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 1), positions=[("secretary", "赵书计")]
    )
    services.update_term(
        term=term,
        ends_on=term.ends_on,
        note="",
        positions=[("secretary", "赵书记"), ("deputy_secretary", "")],
    )
    position = term.positions.get(position="secretary")
    assert position.holder_name == "赵书记"
    assert position.history.earliest().holder_name == "赵书计"


def test_office_creates_edits_and_dissolves_through_the_pages(client, personas, tree):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.post(reverse("branches:create", args=[tree.township.pk]),
                           {"name": "甲镇卫生院党支部", "level": "branch", "kind": "public_institution", "founded_on": "2015-05-01"})  # fmt: skip
    created = Organisation.objects.get(name="甲镇卫生院党支部")
    assert response["Location"] == reverse("branches:detail", args=[created.pk])
    bad = client.post(reverse("branches:create", args=[tree.township.pk]),
                      {"name": "", "level": "group", "kind": "community", "founded_on": "2015-05-01"})  # fmt: skip
    assert bad.status_code == 200 and "这个字段是必填项" in bad.content.decode()
    client.post(reverse("branches:term_create", args=[created.pk]),
                {"elected_on": "2024-05-01", "pos_secretary": "钱书记"})  # fmt: skip
    assert "钱书记" in client.get(reverse("branches:detail", args=[created.pk])).content.decode()
    client.post(
        reverse("branches:dissolve", args=[created.pk]), {"dissolved_on": "2025-01-01", "reason": "机构调整"}
    )
    created.refresh_from_db()
    assert created.dissolved_on == date(2025, 1, 1)
    link = f'href="{reverse("branches:detail", args=[created.pk])}"'
    assert link not in client.get(reverse("branches:tree")).content.decode()
    assert link in client.get(reverse("branches:tree"), {"dissolved": "1"}).content.decode()


def test_tree_page_queries_do_not_grow_with_the_tree(client, personas, tree):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 1), positions=[("secretary", "甲书记")]
    )
    client.get(reverse("branches:tree"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("branches:tree"))
    with CaptureQueriesContext(connection) as detail_small:
        client.get(reverse("branches:detail", args=[tree.township.pk]))
    for i in range(20):
        branch = make_org(tree.township, f"新支部{i}")
        make_org(branch, "第一党小组", OrgLevel.GROUP)
        services.record_term(
            organisation=branch, elected_on=date(2024, 1, 1), positions=[("secretary", f"书记{i}")]
        )
    client.get(reverse("branches:tree"))  # the nav badge is counted again once after the tree changed
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("branches:tree")).content.decode()
    assert "书记19" in page
    assert len(many) == len(few)
    with CaptureQueriesContext(connection) as detail:
        client.get(reverse("branches:detail", args=[tree.township.pk]))
    assert len(detail) == len(detail_small)


def test_a_group_moved_to_another_branch_takes_its_members_with_it(branch, tree):
    services.update_organisation(  # 支组合一 in the fixture: no groups there until it is taken off
        organisation=tree.a2, name=tree.a2.name, kind=tree.a2.kind, founded_on=tree.a2.founded_on,
        merged_group=False,
    )  # fmt: skip
    moved = services.move_organisation(organisation=tree.g1, new_parent=tree.a2)
    for person in branch.people:  # all four are in 第一党小组
        member = Member.objects.get(pk=person.pk)
        assert (member.branch_id, member.group_id) == (tree.a2.pk, moved.pk)
        assert member.memberships.get(ended_on__isnull=True).branch_id == tree.a2.pk
        transfer = Transfer.objects.get(member=member)
        assert (transfer.from_branch_id, transfer.to_branch_id) == (tree.a1.pk, tree.a2.pk)
        assert transfer.note == "随党小组“第一党小组”调整至“甲村党支部”"
    # Moved again within its new branch's township: nobody is transferred twice.
    services.move_organisation(organisation=moved, new_parent=tree.a2)
    assert Transfer.objects.count() == len(branch.people)
