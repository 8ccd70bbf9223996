"""Organisation tree services: create, move, dissolve, record and correct committee terms."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from branches import services
from branches.models import CommitteePosition, CommitteeTerm, Organisation, OrgKind, OrgLevel
from tests.conftest import make_org


def _fresh(org):
    return Organisation.objects.get(pk=org.pk)


def _term(org, elected_on, **holders):
    return services.record_term(organisation=org, elected_on=elected_on, positions=list(holders.items()))


# --- create -------------------------------------------------------------------------------------


def test_a_group_can_be_set_up_under_a_branch(tree):
    group = make_org(tree.a2, "第一党小组", OrgLevel.GROUP)
    assert Organisation.objects.get_parent(group) == tree.a2


@pytest.mark.parametrize("parent_attr", ["township", "community"])
def test_a_group_cannot_be_set_up_directly_under_a_party_committee(tree, parent_attr):
    with pytest.raises(ValidationError, match="党委下不能设立党小组"):
        make_org(getattr(tree, parent_attr), "乱设小组", OrgLevel.GROUP)
    assert not Organisation.objects.filter(name="乱设小组").exists()


def test_a_group_cannot_be_set_up_under_a_general_branch(tree):
    general = make_org(tree.township, "甲镇机关党总支", OrgLevel.GENERAL_BRANCH, OrgKind.GOVERNMENT)
    with pytest.raises(ValidationError, match="党总支下不能设立党小组"):
        make_org(general, "第一党小组", OrgLevel.GROUP)


def test_a_general_branch_only_under_a_party_committee(tree):
    general = make_org(tree.township, "甲镇机关党总支", OrgLevel.GENERAL_BRANCH, OrgKind.GOVERNMENT)
    assert Organisation.objects.get_parent(general) == tree.township
    with pytest.raises(ValidationError, match="党支部下不能设立党总支"):
        make_org(tree.a1, "错位党总支", OrgLevel.GENERAL_BRANCH)
    with pytest.raises(ValidationError, match="党总支下不能设立党总支"):
        make_org(general, "嵌套党总支", OrgLevel.GENERAL_BRANCH)
    with pytest.raises(ValidationError, match="党总支必须设在上级党组织之下"):
        make_org(None, "孤立党总支", OrgLevel.GENERAL_BRANCH)


def test_no_branch_under_a_dissolved_party_committee(tree):
    old = make_org(tree.township, "旧社区党委", OrgLevel.PARTY_COMMITTEE)
    services.dissolve_organisation(organisation=old, dissolved_on=date(2024, 1, 1), reason="撤并")
    with pytest.raises(ValidationError, match="“旧社区党委”已撤销"):
        make_org(_fresh(old), "旧社区第一党支部")
    assert not Organisation.objects.filter(name="旧社区第一党支部").exists()


def test_no_group_under_a_dissolved_branch(tree):
    services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2024, 1, 1), reason="合并")
    with pytest.raises(ValidationError, match="已撤销"):
        make_org(_fresh(tree.a2), "第一党小组", OrgLevel.GROUP)


def test_duplicate_name_among_active_siblings_is_rejected(tree):
    with pytest.raises(ValidationError) as caught:
        make_org(tree.a1, "第一党小组", OrgLevel.GROUP)
    assert caught.value.message_dict["name"] == ["同一上级下已有名为“第一党小组”的党组织。"]
    assert Organisation.objects.get_children(tree.a1).filter(name="第一党小组").count() == 1


def test_same_name_is_fine_under_another_parent(tree):
    group = make_org(tree.a2, "第一党小组", OrgLevel.GROUP)
    assert group.name == tree.g1.name


def test_a_dissolved_siblings_name_can_be_used_again(tree):
    services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2024, 1, 1), reason="合并")
    again = make_org(tree.township, "甲村党支部", kind=OrgKind.VILLAGE)
    assert again.is_active and again.pk != tree.a2.pk


@pytest.mark.parametrize("level", [OrgLevel.GROUP, OrgLevel.GENERAL_BRANCH, OrgLevel.PARTY_COMMITTEE])
def test_merged_group_is_only_for_branches(tree, level):
    parent = tree.a1 if level == OrgLevel.GROUP else tree.township
    with pytest.raises(ValidationError) as caught:
        make_org(parent, "支组合一试验", level, merged_group=True)
    assert caught.value.message_dict["merged_group"] == ["只有党支部可以设置为支组合一。"]


def test_a_branch_can_be_merged_group(tree):
    branch = make_org(tree.township, "甲镇小微企业党支部", kind=OrgKind.PRIVATE_ENTERPRISE, merged_group=True)
    assert _fresh(branch).merged_group is True


def test_creation_is_recorded_with_the_parent_in_history(tree):
    branch = make_org(tree.township, "甲镇卫生院党支部", kind=OrgKind.PUBLIC_INSTITUTION)
    record = branch.history.get()
    assert record.history_type == "+"
    assert record.history_change_reason == "在“甲镇党委”下设立"


# --- move ---------------------------------------------------------------------------------------


def test_cannot_move_under_itself(tree):
    with pytest.raises(ValidationError, match="不能移动到自身或其下级组织之下"):
        services.move_organisation(organisation=tree.a1, new_parent=tree.a1)


def test_cannot_move_under_own_descendant(tree):
    with pytest.raises(ValidationError, match="不能移动到自身或其下级组织之下"):
        services.move_organisation(organisation=tree.community, new_parent=tree.a1)
    assert Organisation.objects.get_parent(_fresh(tree.community)) == tree.township


def test_a_group_cannot_move_under_a_party_committee(tree):
    with pytest.raises(ValidationError, match="党委下不能设立党小组"):
        services.move_organisation(organisation=tree.g1, new_parent=tree.township)
    assert Organisation.objects.get_parent(_fresh(tree.g1)) == tree.a1


def test_a_branch_cannot_move_under_another_branch(tree):
    with pytest.raises(ValidationError, match="党支部下不能设立党支部"):
        services.move_organisation(organisation=tree.a2, new_parent=tree.a1)


def test_a_group_can_move_to_another_branch(tree):
    moved = services.move_organisation(organisation=tree.g2, new_parent=tree.a2)
    assert Organisation.objects.get_parent(moved) == tree.a2
    assert [o.name for o in Organisation.objects.get_children(_fresh(tree.a1))] == ["第一党小组"]


def test_the_top_party_committee_cannot_move(tree):
    with pytest.raises(ValidationError, match="最上级党委不能移动"):
        services.move_organisation(organisation=tree.township, new_parent=tree.other_township)
    assert _fresh(tree.township).is_root()


def test_cannot_move_under_a_dissolved_parent(tree):
    old = make_org(tree.township, "旧社区党委", OrgLevel.PARTY_COMMITTEE)
    services.dissolve_organisation(organisation=old, dissolved_on=date(2024, 1, 1), reason="撤并")
    with pytest.raises(ValidationError, match="已撤销"):
        services.move_organisation(organisation=tree.a2, new_parent=_fresh(old))


def test_cannot_move_next_to_an_active_sibling_of_the_same_name(tree):
    make_org(tree.township, "甲社区第一党支部")
    with pytest.raises(ValidationError, match="已有名为“甲社区第一党支部”"):
        services.move_organisation(organisation=tree.a1, new_parent=tree.township)
    assert Organisation.objects.get_parent(_fresh(tree.a1)) == tree.community


def test_move_is_recorded_in_history_naming_both_parents(tree):
    services.move_organisation(organisation=tree.a1, new_parent=tree.township)
    latest = _fresh(tree.a1).history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == "由“甲社区党委”移至“甲镇党委”"


def test_moved_branch_takes_its_groups_along(tree):
    moved = services.move_organisation(organisation=tree.a1, new_parent=tree.township)
    for group in (tree.g1, tree.g2):
        group = _fresh(group)
        assert list(Organisation.objects.get_ancestors(group)) == [tree.township, moved]
        assert group.path.startswith(moved.path)
        assert group.depth == moved.depth + 1
    assert Organisation.objects.get_children(_fresh(tree.community)).count() == 0


def test_moved_subtree_leaves_other_township_untouched(tree):
    before = list(Organisation.objects.get_tree(_fresh(tree.other_township)).values_list("pk", "path"))
    services.move_organisation(organisation=tree.a1, new_parent=tree.township)
    after = list(Organisation.objects.get_tree(_fresh(tree.other_township)).values_list("pk", "path"))
    assert after == before


# --- dissolve -----------------------------------------------------------------------------------


def test_dissolve_refused_while_an_active_branch_is_below(tree):
    with pytest.raises(ValidationError, match="请先撤销或移走下级党组织：甲社区第一党支部"):
        services.dissolve_organisation(
            organisation=tree.community, dissolved_on=date(2025, 1, 1), reason="合并"
        )
    assert _fresh(tree.community).is_active and _fresh(tree.a1).is_active


def test_dissolve_allowed_once_the_branches_below_are_dissolved(tree):
    services.dissolve_organisation(organisation=tree.a1, dissolved_on=date(2025, 1, 1), reason="合并")
    services.dissolve_organisation(
        organisation=_fresh(tree.community), dissolved_on=date(2025, 2, 1), reason="社区撤并"
    )
    assert _fresh(tree.community).dissolved_on == date(2025, 2, 1)
    assert _fresh(tree.a1).dissolved_on == date(2025, 1, 1)


def test_dissolving_a_branch_dissolves_its_groups(tree):
    services.dissolve_organisation(organisation=tree.a1, dissolved_on=date(2025, 1, 1), reason="社区合并")
    for group in (tree.g1, tree.g2):
        group = _fresh(group)
        assert group.dissolved_on == date(2025, 1, 1)
        assert group.dissolve_reason == "社区合并"


def test_a_group_dissolved_earlier_keeps_its_own_date(tree):
    services.dissolve_organisation(organisation=tree.g2, dissolved_on=date(2023, 6, 1), reason="人数不足")
    services.dissolve_organisation(organisation=tree.a1, dissolved_on=date(2025, 1, 1), reason="社区合并")
    g2 = _fresh(tree.g2)
    assert (g2.dissolved_on, g2.dissolve_reason) == (date(2023, 6, 1), "人数不足")


def test_dissolve_deletes_nothing(tree):
    _term(tree.a1, date(2024, 1, 1), secretary="甲书记", organisation="甲委员")
    counts = (Organisation.objects.count(), CommitteeTerm.objects.count(), CommitteePosition.objects.count())
    services.dissolve_organisation(organisation=tree.a1, dissolved_on=date(2025, 1, 1), reason="社区合并")
    assert (
        Organisation.objects.count(),
        CommitteeTerm.objects.count(),
        CommitteePosition.objects.count(),
    ) == counts
    assert Organisation.objects.get_children(_fresh(tree.a1)).count() == 2


def test_dissolve_date_in_the_future_is_rejected(tree):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError, match="撤销日期不能晚于今天"):
        services.dissolve_organisation(organisation=tree.a2, dissolved_on=tomorrow, reason="合并")
    assert _fresh(tree.a2).is_active


def test_dissolve_today_is_accepted(tree):
    today = timezone.localdate()
    services.dissolve_organisation(organisation=tree.a2, dissolved_on=today, reason="合并")
    assert _fresh(tree.a2).dissolved_on == today


def test_dissolve_before_founding_is_rejected(tree):
    with pytest.raises(ValidationError, match="撤销日期不能早于成立日期"):
        services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2009, 12, 31), reason="合并")


def test_dissolving_twice_is_rejected(tree):
    services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2025, 1, 1), reason="合并")
    with pytest.raises(ValidationError, match="该党组织已撤销"):
        services.dissolve_organisation(
            organisation=_fresh(tree.a2), dissolved_on=date(2025, 2, 1), reason="再撤"
        )
    assert _fresh(tree.a2).dissolved_on == date(2025, 1, 1)


def test_dissolve_reason_is_in_the_history(tree):
    services.dissolve_organisation(organisation=tree.a1, dissolved_on=date(2025, 1, 1), reason="社区合并")
    for org in (tree.a1, tree.g1, tree.g2):
        latest = _fresh(org).history.order_by("-history_date", "-history_id").first()
        assert latest.history_change_reason == "撤销：社区合并"
        assert latest.dissolved_on == date(2025, 1, 1)
    assert _fresh(tree.a1).history.count() == 2  # created, then dissolved: the old state is kept


# --- record_term --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [OrgKind.VILLAGE, OrgKind.COMMUNITY])
def test_village_and_community_terms_default_to_five_years(tree, kind):
    branch = make_org(tree.township, "试点党支部", kind=kind)
    term = _term(branch, date(2021, 3, 1), secretary="王书记")
    assert term.ends_on == date(2026, 3, 1)


@pytest.mark.parametrize("kind", [OrgKind.SCHOOL, OrgKind.GOVERNMENT, OrgKind.PRIVATE_ENTERPRISE])
def test_other_terms_default_to_three_years(tree, kind):
    branch = make_org(tree.township, "试点党支部", kind=kind)
    term = _term(branch, date(2024, 6, 1), secretary="王书记")
    assert term.ends_on == date(2027, 6, 1)


def test_an_explicit_end_date_is_kept(tree):
    term = services.record_term(
        organisation=tree.a2,
        elected_on=date(2024, 6, 1),
        ends_on=date(2026, 6, 1),
        positions=[("secretary", "王")],
    )
    assert _fresh_term(term).ends_on == date(2026, 6, 1)


def _fresh_term(term):
    return CommitteeTerm.objects.get(pk=term.pk)


def test_new_election_ends_the_previous_holders_on_the_election_date(tree):
    _term(tree.a2, date(2021, 3, 1), secretary="老书记", organisation="老委员")
    _term(tree.a2, date(2026, 3, 1), secretary="新书记")
    old = CommitteePosition.objects.filter(holder_name__in=["老书记", "老委员"])
    assert {p.ended_on for p in old} == {date(2026, 3, 1)}
    new = CommitteePosition.objects.get(holder_name="新书记")
    assert (new.started_on, new.ended_on) == (date(2026, 3, 1), None)


def test_a_post_left_earlier_keeps_its_own_end_date(tree):
    term = _term(tree.a2, date(2021, 3, 1), secretary="老书记", propaganda="老宣传")
    services.update_term(term=term, ends_on=term.ends_on, note="", positions=[("propaganda", "")])
    left_on = CommitteePosition.objects.get(holder_name="老宣传").ended_on
    _term(tree.a2, date(2026, 3, 1), secretary="新书记")
    assert CommitteePosition.objects.get(holder_name="老宣传").ended_on == left_on
    assert CommitteePosition.objects.get(holder_name="老书记").ended_on == date(2026, 3, 1)


def test_an_election_elsewhere_does_not_end_other_branches_holders(tree):
    _term(tree.a1, date(2021, 3, 1), secretary="甲一书记")
    _term(tree.a2, date(2026, 3, 1), secretary="甲村书记")
    assert CommitteePosition.objects.get(holder_name="甲一书记").ended_on is None


def test_blank_holder_names_are_not_recorded(tree):
    term = _term(tree.a2, date(2024, 1, 1), secretary=" 王书记 ", organisation="  ", propaganda="")
    assert [(p.position, p.holder_name) for p in term.positions.all()] == [("secretary", "王书记")]


def test_a_group_cannot_have_a_term(tree):
    with pytest.raises(ValidationError, match="党小组不设委员会"):
        _term(tree.g1, date(2024, 1, 1), secretary="组长")
    assert not CommitteeTerm.objects.filter(organisation=tree.g1).exists()


def test_a_dissolved_branch_cannot_hold_an_election(tree):
    services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2024, 1, 1), reason="合并")
    with pytest.raises(ValidationError, match="已撤销的党组织不能换届"):
        _term(_fresh(tree.a2), date(2024, 6, 1), secretary="王")


def test_the_same_election_date_twice_is_rejected(tree):
    _term(tree.a2, date(2026, 3, 1), secretary="新书记")
    with pytest.raises(ValidationError, match="该日期已有一次换届记录"):
        _term(tree.a2, date(2026, 3, 1), secretary="又一个")
    assert CommitteeTerm.objects.filter(organisation=tree.a2).count() == 1
    assert not CommitteePosition.objects.filter(holder_name="又一个").exists()
    assert CommitteePosition.objects.get(holder_name="新书记").ended_on is None


def test_election_in_the_future_is_rejected(tree):
    with pytest.raises(ValidationError, match="选举日期不能晚于今天"):
        _term(tree.a2, timezone.localdate() + timedelta(days=1), secretary="王")


def test_term_must_end_after_the_election(tree):
    with pytest.raises(ValidationError, match="届满日期必须晚于选举日期"):
        services.record_term(
            organisation=tree.a2,
            elected_on=date(2024, 1, 1),
            ends_on=date(2024, 1, 1),
            positions=[("secretary", "王")],
        )


# --- update_term --------------------------------------------------------------------------------


def test_renaming_a_holder_corrects_in_place_and_history_keeps_the_old_name(tree):
    term = _term(tree.a1, date(2024, 1, 1), secretary="赵书计")
    original = term.positions.get()
    services.update_term(term=term, ends_on=term.ends_on, note="", positions=[("secretary", "赵书记")])
    corrected = term.positions.get()
    assert corrected.pk == original.pk
    assert (corrected.holder_name, corrected.ended_on) == ("赵书记", None)
    assert [h.holder_name for h in corrected.history.order_by("history_date", "history_id")] == [
        "赵书计",
        "赵书记",
    ]


def test_blank_name_makes_the_post_vacant(tree):
    term = _term(tree.a1, date(2024, 1, 1), secretary="赵书记", organisation="钱委员")
    services.update_term(
        term=term, ends_on=term.ends_on, note="", positions=[("secretary", "赵书记"), ("organisation", " ")]
    )
    left = CommitteePosition.objects.get(holder_name="钱委员")
    assert left.ended_on == timezone.localdate()
    assert left.history.order_by("history_date", "history_id").first().ended_on is None
    assert list(term.positions.filter(ended_on__isnull=True).values_list("holder_name", flat=True)) == [
        "赵书记"
    ]


def test_update_term_fills_an_empty_post(tree):
    term = _term(tree.a1, date(2024, 1, 1), secretary="赵书记")
    services.update_term(
        term=term, ends_on=term.ends_on, note="补录", positions=[("secretary", "赵书记"), ("youth", "孙青")]
    )
    sitting = dict(term.positions.filter(ended_on__isnull=True).values_list("position", "holder_name"))
    assert sitting == {"secretary": "赵书记", "youth": "孙青"}
    assert _fresh_term(term).note == "补录"


def test_update_term_changes_the_end_date(tree):
    term = _term(tree.a1, date(2024, 1, 1), secretary="赵书记")
    services.update_term(term=term, ends_on=date(2028, 12, 31), note="", positions=[("secretary", "赵书记")])
    assert _fresh_term(term).ends_on == date(2028, 12, 31)
    assert term.history.order_by("history_date", "history_id").first().ends_on == date(2029, 1, 1)


def test_correcting_a_name_on_a_past_term_does_not_add_a_second_holder(tree):
    """编辑 is offered on every 历届 term: a typo in a past secretary's name is fixed in place."""
    old = _term(tree.a1, date(2019, 1, 1), secretary="赵书计")
    _term(tree.a1, date(2024, 1, 1), secretary="钱书记")
    services.update_term(term=old, ends_on=old.ends_on, note="", positions=[("secretary", "赵书记")])
    holders = list(old.positions.values_list("holder_name", "ended_on"))
    assert holders == [("赵书记", date(2024, 1, 1))]
