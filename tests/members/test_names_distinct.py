"""distinct_labels: namesakes listed together are told apart, by 党小组, birth year, 入党年份 or record number."""

from datetime import date
from types import SimpleNamespace

from members.names import distinct_labels


def person(pk, name, *, group=None, born=date(1970, 1, 1), joined=None):
    return SimpleNamespace(pk=pk, name=name, birth_on=born, joined_on=joined,
                           group=SimpleNamespace(name=group) if group else None)  # fmt: skip


class Unreadable:
    """A person whose group may not be read (as a Member without its group loaded would cost a query)."""

    def __init__(self, pk, name):
        self.pk, self.name = pk, name

    @property
    def group(self):
        raise AssertionError("a person without a namesake is labelled by name alone")


def test_a_name_listed_once_is_its_own_label_and_nothing_else_is_read():
    assert distinct_labels([Unreadable(1, "王芳"), Unreadable(2, "谢伟")]) == {1: "王芳", 2: "谢伟"}


def test_namesakes_in_different_groups_are_told_apart_by_their_group():
    labels = distinct_labels([
        person(52, "谢伟", group="第二党小组", born=date(1992, 5, 14)),
        person(72, "谢伟", group="第一党小组", born=date(1957, 12, 11)),
        person(9, "王芳", group="第一党小组"),
    ])  # fmt: skip
    assert labels == {52: "谢伟（第二党小组）", 72: "谢伟（第一党小组）", 9: "王芳"}


def test_namesakes_in_one_group_or_without_one_are_told_apart_by_birth_year():
    same_group = [person(1, "谢伟", group="第一党小组", born=date(1975, 3, 1)),
                  person(2, "谢伟", group="第一党小组", born=date(1980, 6, 1))]  # fmt: skip
    assert distinct_labels(same_group) == {1: "谢伟（1975年生）", 2: "谢伟（1980年生）"}
    one_without = [person(1, "谢伟", group="第一党小组", born=date(1975, 3, 1)),
                   person(2, "谢伟", born=date(1980, 6, 1))]  # fmt: skip
    assert distinct_labels(one_without) == {1: "谢伟（1975年生）", 2: "谢伟（1980年生）"}


def test_then_by_the_year_they_joined_and_last_by_record_number_never_by_id_number():
    born_together = [person(1, "李明", born=date(1975, 3, 1), joined=date(1999, 7, 1)),
                     person(2, "李明", born=date(1975, 9, 1), joined=date(2005, 7, 1))]  # fmt: skip
    assert distinct_labels(born_together) == {1: "李明（1999年入党）", 2: "李明（2005年入党）"}
    alike = [person(31, "李明", joined=date(1999, 7, 1)), person(8, "李明"), person(8, "李明")]
    assert distinct_labels(alike) == {31: "李明（编号31）", 8: "李明（编号8）"}  # listed twice: one person


def test_three_namesakes_take_the_first_mark_that_separates_all_three():
    labels = distinct_labels([
        person(1, "张伟", group="第一党小组", born=date(1960, 1, 1)),
        person(2, "张伟", group="第一党小组", born=date(1970, 1, 1)),
        person(3, "张伟", group="第二党小组", born=date(1980, 1, 1)),
    ])  # fmt: skip
    assert labels == {1: "张伟（1960年生）", 2: "张伟（1970年生）", 3: "张伟（1980年生）"}
