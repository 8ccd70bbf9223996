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


def _unmerged(branch):
    """The branch with 支组合一 taken off (the fixture's 甲村党支部 is 支组合一), so that it may hold groups."""
    return services.update_organisation(
        organisation=_fresh(branch), name=branch.name, kind=branch.kind, founded_on=branch.founded_on,
        merged_group=False,
    )  # fmt: skip


def test_a_group_can_be_set_up_under_a_branch(tree):
    group = make_org(_unmerged(tree.a2), "第一党小组", OrgLevel.GROUP)
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
    group = make_org(_unmerged(tree.a2), "第一党小组", OrgLevel.GROUP)
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


def test_merged_group_and_groups_do_not_coexist(tree):
    """RULES.md: 支组合一 is for a small branch with no 党小组 (its 党员大会 stands for the group meetings)."""
    with pytest.raises(ValidationError) as caught:
        services.update_organisation(
            organisation=tree.a1, name=tree.a1.name, kind=tree.a1.kind, founded_on=tree.a1.founded_on,
            merged_group=True,
        )  # fmt: skip
    assert caught.value.message_dict["merged_group"] == [
        "该支部设有党小组“第一党小组”、“第二党小组”，不能设为支组合一；请先撤销或移走其党小组。"
    ]
    assert _fresh(tree.a1).merged_group is False
    with pytest.raises(ValidationError, match="“甲村党支部”为支组合一的党支部，不设党小组"):
        make_org(tree.a2, "第一党小组", OrgLevel.GROUP)
    with pytest.raises(ValidationError, match="“甲村党支部”为支组合一的党支部，不设党小组"):
        services.move_organisation(organisation=tree.g2, new_parent=tree.a2)
    assert Organisation.objects.get_children(_fresh(tree.a2)).count() == 0
    assert Organisation.objects.get_parent(_fresh(tree.g2)) == tree.a1
    # Once its groups are gone, the branch may be 支组合一.
    for group in (tree.g1, tree.g2):
        services.dissolve_organisation(
            organisation=_fresh(group), dissolved_on=date(2025, 1, 1), reason="合并"
        )
    merged = services.update_organisation(
        organisation=_fresh(tree.a1), name=tree.a1.name, kind=tree.a1.kind, founded_on=tree.a1.founded_on,
        merged_group=True,
    )  # fmt: skip
    assert _fresh(merged).merged_group is True


def test_creation_is_recorded_with_the_parent_in_history(tree):
    branch = make_org(tree.township, "甲镇卫生院党支部", kind=OrgKind.PUBLIC_INSTITUTION)
    record = branch.history.get()
    assert record.history_type == "+"
    assert record.history_change_reason == "在“甲镇党委”下设立"


def test_the_founding_date_is_not_moved_after_the_organisations_records(branch, tree):
    from tests.conftest import make_meeting

    def refound(organisation, founded_on):
        organisation = _fresh(organisation)
        return services.update_organisation(
            organisation=organisation, name=organisation.name, kind=organisation.kind, founded_on=founded_on,
            merged_group=organisation.merged_group,
        )  # fmt: skip

    with pytest.raises(ValidationError) as caught:
        refound(branch, date(2025, 1, 1))  # elected 2024-01-05 (the fixture)
    assert caught.value.message_dict["founded_on"] == [
        "成立日期不能晚于该组织最早的记录：2024-01-05的换届选举。"
    ]
    make_meeting(branch, tree.g1, branch.people, held_on=date(2023, 6, 1))
    with pytest.raises(ValidationError, match="成立日期不能晚于该组织最早的记录：2023-06-01的会议。"):
        refound(branch, date(2024, 1, 1))
    with pytest.raises(ValidationError, match="2023-06-01的会议"):
        refound(tree.g1, date(2024, 1, 1))  # the group's own meeting
    assert _fresh(branch).founded_on == date(2010, 1, 1)
    with pytest.raises(ValidationError, match="不能晚于下级党组织“第一党小组”的成立日期（2010-01-01）"):
        refound(branch, date(2023, 6, 1))  # its groups, founded 2010, would be older than it
    for group in (tree.g1, tree.g2):
        refound(group, date(2023, 6, 1))
    assert refound(branch, date(2023, 6, 1)).founded_on == date(2023, 6, 1)
    assert refound(tree.g2, date(2025, 1, 1)).founded_on == date(2025, 1, 1)  # no records of its own


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
    moved = services.move_organisation(organisation=tree.g2, new_parent=_unmerged(tree.a2))
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


def test_a_branch_or_group_with_members_on_its_roster_is_not_dissolved(branch, tree):
    """Members of a dissolved branch would drop out of the roster list and still be counted."""
    from members import services as member_services
    from tests.compliance.conftest import idn
    from tests.conftest import make_member

    make_member(branch, tree.g2, idn(10), name="积极分子甲", category="activist")
    for organisation, message in [
        (tree.g1, "该组织仍有在册党员 4 人，请先办理转出或调整党小组后再撤销。"),
        (branch, "该组织仍有在册党员 4 人（另有入党申请人、积极分子和发展对象 1 人），请先办理转出或调整党小组后再撤销。"),
    ]:  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            services.dissolve_organisation(
                organisation=organisation, dissolved_on=date(2026, 12, 1), reason="合并"
            )
        assert caught.value.messages == [message]
        assert _fresh(organisation).is_active
    # Moved to another group, or transferred out, they no longer hold it back.
    for person in branch.people:
        member_services.move_member(member=person, branch=branch, group=tree.g2, on=date(2026, 12, 1))
    services.dissolve_organisation(
        organisation=_fresh(tree.g1), dissolved_on=date(2026, 12, 2), reason="合并"
    )
    assert not _fresh(tree.g1).is_active


def test_a_dissolution_date_before_the_organisations_records_is_refused(branch, tree):
    from tests.conftest import make_meeting

    make_meeting(branch, tree.g1, branch.people, held_on=date(2026, 11, 20))
    for organisation in (branch, tree.g1):
        with pytest.raises(ValidationError) as caught:
            services.dissolve_organisation(
                organisation=organisation, dissolved_on=date(2020, 6, 1), reason="合并"
            )
        assert caught.value.message_dict["dissolved_on"] == [
            "该组织最近一次会议于2026-11-20召开，撤销日期应晚于该日期。"
        ]
    _term(tree.a2, date(2024, 1, 5), secretary="王书记")
    with pytest.raises(ValidationError) as caught:
        services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2024, 1, 4), reason="合并")
    assert caught.value.message_dict["dissolved_on"] == [
        "该组织最近一次换届选举于2024-01-05，撤销日期不能早于该日期。"
    ]
    assert _fresh(tree.a2).is_active
    services.dissolve_organisation(organisation=tree.a2, dissolved_on=date(2024, 1, 5), reason="合并")
    assert _fresh(tree.a2).dissolved_on == date(2024, 1, 5)


def test_a_voided_meeting_does_not_hold_back_the_dissolution(tree):
    from meetings.models import Meeting

    branch = make_org(tree.township, "甲镇卫生院党支部", kind=OrgKind.PUBLIC_INSTITUTION)
    meeting = Meeting.objects.create(
        branch=branch, held_on=date(2026, 11, 20), topic="误录", submit_token="x"
    )
    meeting.void("误录")
    services.dissolve_organisation(organisation=branch, dissolved_on=date(2026, 1, 1), reason="合并")
    assert _fresh(branch).dissolved_on == date(2026, 1, 1)


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


def test_an_earlier_term_recorded_afterwards_ends_at_the_next_election(tree):
    """A 2016 书记 entered after the 2021 election is no 书记 in 2025 (书记讲党课 counts the sitting one)."""
    _term(tree.a2, date(2021, 3, 1), secretary="新书记")
    _term(tree.a2, date(2016, 3, 1), secretary="老书记", organisation="老委员")
    old = CommitteePosition.objects.filter(holder_name__in=["老书记", "老委员"])
    assert {(p.started_on, p.ended_on) for p in old} == {(date(2016, 3, 1), date(2021, 3, 1))}
    assert CommitteePosition.objects.get(holder_name="新书记").ended_on is None
    # One recorded between them ends the earlier one's posts on its own date, and its own at the next.
    _term(tree.a2, date(2018, 3, 1), secretary="中书记")
    assert {p.ended_on for p in old.all()} == {date(2018, 3, 1)}
    assert CommitteePosition.objects.get(holder_name="中书记").ended_on == date(2021, 3, 1)
    sitting = CommitteePosition.objects.filter(term__organisation=tree.a2, ended_on__isnull=True)
    assert list(sitting.values_list("holder_name", flat=True)) == ["新书记"]


def test_a_term_ends_at_the_latest_after_its_statutory_length(tree):
    """A village branch serves five years: 届满 2099 for a 2021 election is refused, on create and edit."""
    with pytest.raises(ValidationError) as caught:
        services.record_term(
            organisation=tree.a2, elected_on=date(2021, 3, 1), ends_on=date(2099, 3, 1),
            positions=[("secretary", "王")],
        )  # fmt: skip
    assert caught.value.message_dict["ends_on"] == [
        "届满日期不能晚于2026-03-01：该党组织每届任期5年，自选举日期起算。"
        "经上级党组织批准延期换届的，最迟至2027-03-01，并须在备注中写明批准情况。"
    ]
    assert not CommitteeTerm.objects.filter(organisation=tree.a2).exists()
    term = services.record_term(
        organisation=tree.a2,
        elected_on=date(2021, 3, 1),
        ends_on=date(2026, 3, 1),
        positions=[("secretary", "王")],
    )
    school = make_org(tree.township, "甲镇中学党支部", kind=OrgKind.SCHOOL)
    with pytest.raises(ValidationError, match="届满日期不能晚于2027-06-01：该党组织每届任期3年"):
        services.record_term(
            organisation=school,
            elected_on=date(2024, 6, 1),
            ends_on=date(2028, 6, 2),
            positions=[("secretary", "李")],
        )
    with pytest.raises(
        ValidationError, match="延期换届须经上级党组织批准"
    ):  # a day late, with no approval noted
        services.record_term(
            organisation=school,
            elected_on=date(2024, 6, 1),
            ends_on=date(2027, 6, 2),
            positions=[("secretary", "李")],
        )
    with pytest.raises(ValidationError, match="届满日期不能晚于2026-03-01"):
        services.update_term(term=term, ends_on=date(2099, 3, 1), note="", positions=[("secretary", "王")])
    assert _fresh_term(term).ends_on == date(2026, 3, 1)


def test_an_approved_postponement_of_up_to_a_year_is_recorded_with_its_note(tree):
    """延期换届 (支部条例 第二十一条): up to a year past 届满, with the approval written in the note."""
    term = services.record_term(
        organisation=tree.a2, elected_on=date(2021, 3, 1), positions=[("secretary", "王")]
    )
    with pytest.raises(ValidationError) as caught:
        services.update_term(term=term, ends_on=date(2026, 9, 1), note="", positions=[])
    assert caught.value.message_dict == {
        "note": ["届满日期晚于任期届满日（2026-03-01）：延期换届须经上级党组织批准，请在备注中写明批准情况。"]
    }
    services.update_term(
        term=term, ends_on=date(2026, 9, 1), note="镇党委2026年2月批复同意延期换届", positions=[]
    )
    assert _fresh_term(term).ends_on == date(2026, 9, 1)
    with pytest.raises(ValidationError, match="最迟至2027-03-01"):
        services.update_term(term=term, ends_on=date(2027, 3, 2), note="批复", positions=[])


def test_a_term_stored_beyond_its_length_keeps_its_end_while_its_holders_are_corrected(tree):
    term = services.record_term(
        organisation=tree.a2, elected_on=date(2021, 3, 1), positions=[("secretary", "王")]
    )
    CommitteeTerm.objects.filter(pk=term.pk).update(ends_on=date(2029, 3, 1))  # stored before the rule
    services.update_term(
        term=_fresh_term(term), ends_on=date(2029, 3, 1), note="", positions=[("secretary", "汪")]
    )
    assert _fresh_term(term).ends_on == date(2029, 3, 1)


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
