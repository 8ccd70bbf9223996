"""talk_gaps, the pure core of the 谈心谈话 rule: who is still missing, and the count the flag shows (no database)."""

import random

import pytest

from compliance.rules import TalkGaps, talk_coverage, talk_gaps

COMMITTEE, MEMBERS = {1, 2, 3}, {1, 2, 3, 4, 5, 6}


def test_the_gaps_name_the_committee_pairs_and_the_members_not_yet_reached():
    talks = [(1, 2), (3, 2), (4, 1), (5, 6), (6, 6)]
    # 1-2 and 2-3 talked; 4 reached by 1; 5 and 6 talked only with each other, 6 once with themself
    assert talk_gaps(COMMITTEE, MEMBERS, talks) == TalkGaps(required=6, pairs=((1, 3),), members=(5, 6))


def test_nothing_talked_leaves_every_pair_and_every_other_member_missing():
    gaps = talk_gaps(COMMITTEE, MEMBERS, [])
    assert gaps.pairs == ((1, 2), (1, 3), (2, 3)) and gaps.members == (4, 5, 6)
    assert gaps.required == gaps.missing == 6


def test_who_began_the_talk_does_not_matter():
    # a member who came to a committee member counts as much as one the committee member went to
    forwards = talk_gaps(COMMITTEE, MEMBERS, [(1, 3), (4, 2)])
    backwards = talk_gaps(COMMITTEE, MEMBERS, [(3, 1), (2, 4)])
    assert forwards == backwards and forwards.pairs == ((1, 2), (2, 3)) and forwards.members == (5, 6)


def test_talks_among_committee_members_reach_no_other_member():
    gaps = talk_gaps(COMMITTEE, MEMBERS, [(1, 2), (1, 3), (2, 3)])
    assert gaps.pairs == () and gaps.members == (4, 5, 6)


def test_everyone_covered_leaves_no_gap():
    talks = [(1, 2), (2, 3), (3, 1), (4, 1), (2, 5), (6, 3)]
    gaps = talk_gaps(COMMITTEE, MEMBERS, talks)
    assert gaps.missing == 0 and talk_coverage(COMMITTEE, MEMBERS, talks) == (6, 6)


def test_without_a_committee_every_member_is_missing_whatever_they_talked():
    gaps = talk_gaps(set(), {1, 2, 3}, [(1, 2), (2, 3)])
    assert gaps == TalkGaps(required=3, pairs=(), members=(1, 2, 3))


def test_a_branch_with_only_a_secretary_needs_each_member_to_talk_with_them():
    gaps = talk_gaps({1}, {1, 2, 3}, [(2, 1), (2, 3)])
    assert gaps.pairs == () and gaps.members == (3,) and gaps.required == 2


@pytest.mark.parametrize("seed", range(40))
def test_the_count_is_the_list_and_talking_to_the_listed_closes_it(seed):
    """talk_coverage's (required, covered) is talk_gaps' count for any year of talks; and a talk for each
    listed pair and member (with any committee member) leaves nothing missing."""
    rng = random.Random(seed)
    members = set(rng.sample(range(1, 60), rng.randint(0, 25)))
    committee = set(rng.sample(sorted(members), min(len(members), rng.randint(0, 7))))
    people = sorted(members) or [1]
    talks = [(rng.choice(people), rng.choice(people)) for _ in range(rng.randint(0, 40))]
    gaps = talk_gaps(committee, members, talks)
    assert talk_coverage(committee, members, talks) == (gaps.required, gaps.required - gaps.missing)
    assert len(set(gaps.pairs)) == len(gaps.pairs) and all(a < b for a, b in gaps.pairs)
    assert set(gaps.members) <= members - committee
    if committee:
        anyone = min(committee)
        closing = [*gaps.pairs, *((m, anyone) for m in gaps.members)]
        assert talk_gaps(committee, members, talks + closing).missing == 0
        assert talk_coverage(committee, members, talks + closing) == (gaps.required, gaps.required)
