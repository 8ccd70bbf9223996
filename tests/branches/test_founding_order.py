"""成立日期 in order: no organisation founded before the one above it sets it up, none before the party; the
设立下级 page proposes the level most often set up there."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from branches import services
from branches.models import Organisation, OrgLevel, Role
from tests.conftest import make_org

BEFORE_PARENT = "成立日期不能早于上级党组织的成立日期（2026-01-05）。"


@pytest.fixture
def office(client, personas):
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    return client


@pytest.fixture
def young_branch(tree):
    return make_org(tree.township, "新建社区党支部", founded_on=date(2026, 1, 5))


def _fresh(org):
    return Organisation.objects.get(pk=org.pk)


def _refound(org, founded_on):
    org = _fresh(org)
    return services.update_organisation(
        organisation=org, name=org.name, kind=org.kind, founded_on=founded_on, merged_group=org.merged_group
    )


def test_a_group_is_not_founded_before_its_branch(young_branch):
    with pytest.raises(ValidationError) as caught:
        make_org(young_branch, "第一党小组", OrgLevel.GROUP, founded_on=date(2025, 12, 1))
    assert caught.value.message_dict["founded_on"] == [BEFORE_PARENT]
    assert not Organisation.objects.get_children(_fresh(young_branch)).exists()
    make_org(
        _fresh(young_branch), "第一党小组", OrgLevel.GROUP, founded_on=date(2026, 1, 5)
    )  # the same day is fine


def test_a_branch_is_not_founded_before_the_committee_setting_it_up(tree):
    committee = make_org(tree.township, "新区党委", OrgLevel.PARTY_COMMITTEE, founded_on=date(2026, 1, 5))
    with pytest.raises(ValidationError, match=r"成立日期不能早于上级党组织的成立日期（2026-01-05）"):
        make_org(committee, "新区第一党支部", founded_on=date(2020, 1, 1))


def test_the_create_page_says_why(office, young_branch):
    response = office.post(
        reverse("branches:create", args=[young_branch.pk]),
        {"name": "第一党小组", "level": "group", "kind": "community", "founded_on": "2025-12-01"},
    )
    assert response.status_code == 200
    assert BEFORE_PARENT in response.content.decode()
    assert not Organisation.objects.filter(name="第一党小组", path__startswith=young_branch.path).exists()


@pytest.mark.parametrize("when", ["create", "edit"])
def test_a_founding_before_the_party_is_a_typing_slip(office, tree, when):
    data = {"name": "老支部", "level": "branch", "kind": "village", "founded_on": "1800-01-01"}
    if when == "create":
        response = office.post(reverse("branches:create", args=[tree.township.pk]), data)
    else:
        data = {"name": tree.a2.name, "kind": tree.a2.kind, "founded_on": "1800-01-01", "merged_group": "on"}
        response = office.post(reverse("branches:edit", args=[tree.a2.pk]), data)
    assert response.status_code == 200
    assert "成立日期不能早于1921-07-01（中国共产党成立），请检查年份。" in response.content.decode()
    assert not Organisation.objects.filter(founded_on=date(1800, 1, 1)).exists()


def test_editing_a_group_to_before_its_branch_is_refused(office, young_branch):
    group = make_org(young_branch, "第一党小组", OrgLevel.GROUP, founded_on=date(2026, 2, 1))
    response = office.post(
        reverse("branches:edit", args=[group.pk]),
        {"name": group.name, "kind": group.kind, "founded_on": "2025-12-01"},
    )
    assert response.status_code == 200
    assert BEFORE_PARENT in response.content.decode()
    assert _fresh(group).founded_on == date(2026, 2, 1)


def test_a_branch_is_not_moved_after_its_groups(young_branch):
    make_org(young_branch, "第一党小组", OrgLevel.GROUP, founded_on=date(2026, 2, 1))
    with pytest.raises(ValidationError) as caught:
        _refound(young_branch, date(2026, 3, 1))
    assert caught.value.message_dict["founded_on"] == [
        "成立日期不能晚于下级党组织“第一党小组”的成立日期（2026-02-01）。"
    ]
    _refound(young_branch, date(2026, 1, 20))
    assert _fresh(young_branch).founded_on == date(2026, 1, 20)


def test_a_branch_moved_under_a_younger_committee_keeps_and_corrects_its_date(tree):
    """撤并: older branches come under a new 党委 — their own dates stand and can still be corrected."""
    committee = make_org(tree.township, "新区党委", OrgLevel.PARTY_COMMITTEE, founded_on=date(2020, 1, 1))
    services.move_organisation(organisation=_fresh(tree.a1), new_parent=committee)  # founded 2010
    _refound(tree.a1, date(2009, 6, 1))
    assert _fresh(tree.a1).founded_on == date(2009, 6, 1)
    make_org(committee, "新区第一党支部", founded_on=date(2022, 1, 1))
    with pytest.raises(
        ValidationError, match="成立日期不能晚于下级党组织“新区第一党支部”的成立日期（2022-01-01）"
    ):
        _refound(committee, date(2023, 1, 1))  # the branch it set up would be older than it
    _refound(committee, date(2021, 1, 1))  # the older branch moved in does not stand in the way
    assert _fresh(committee).founded_on == date(2021, 1, 1)


def test_a_group_is_not_moved_under_a_younger_branch(office, tree, young_branch):
    response = office.post(reverse("branches:move", args=[tree.g1.pk]), {"new_parent": young_branch.pk})
    assert response.status_code == 200
    assert (
        "“第一党小组”成立于2010-01-01，早于“新建社区党支部”的成立日期（2026-01-05），不能移入该党支部。"
        in response.content.decode()
    )
    assert Organisation.objects.get_parent(_fresh(tree.g1)) == tree.a1


@pytest.mark.parametrize(
    ("parent", "level"), [("township", "branch"), ("community", "branch"), ("a1", "group")]
)
def test_the_create_page_proposes_the_likely_level(office, tree, parent, level):
    page = office.get(reverse("branches:create", args=[getattr(tree, parent).pk])).content.decode()
    assert f'<option value="{level}" selected>' in page
    assert 'value="party_committee" selected' not in page


def test_a_general_branch_proposes_a_branch(office, tree):
    general = make_org(tree.township, "镇机关党总支", OrgLevel.GENERAL_BRANCH)
    page = office.get(reverse("branches:create", args=[general.pk])).content.decode()
    assert '<option value="branch" selected>' in page
