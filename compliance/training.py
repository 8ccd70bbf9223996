"""集中学习培训 (training_hours) on the database side: each member's 学时 for a year against what they owe.

The engine flags from it, the branch's training page and the member's page show it, and the 台账
sheet lists it, so every place agrees. Choices (RULES.md leaves them to the township):

- Who: 正式 and 预备党员 on the roster in good standing (停止党籍 members owe nothing).
- How much: 32 学时 a year (教育管理条例 第二十条). A 党委 sets it for its subtree with the
  `training_hours` setting: `enabled` off stops the check, `count` is the hours. The 56 学时
  many training plans ask of the 支部书记 and 支委 is a second setting, `training_hours_committee`,
  off by default: when enabled, its `count` (default 56) applies to whoever holds a post of the
  branch committee on the last day of the year (today, for the year still running), matched to
  the roster by name as the committee is everywhere else.
- Which setting: a year is judged by the setting in force on its 1 January, as every yearly rule
  is (a setting effective mid-year applies from the next year); the nearest ancestor's wins
  among settings of the same date.
- Joined during the year: a member who became a 预备党员, or came onto this roster (a transfer
  in), during the year owes hours pro rata by the whole months left, rounded up. Months wholly
  inside an approved exemption (病休 / 产假 / 年老体弱) are left out the same way, so a member
  exempt all year owes nothing.
- What counts: every non-void record of the member in the year, whichever branch recorded it
  (hours follow the member).
- When: a year is overdue once it has ended short; in December it is due soon.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from django.db.models import FilteredRelation, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractYear, Greatest

from branches.models import CommitteePosition
from members.models import PARTY_MEMBER_CATEGORIES, Exemption, Member, Membership, Status, TrainingRecord

from .rules import (
    COMMITTEE_TRAINING_HOURS,
    TRAINING_COMMITTEE,
    TRAINING_HOURS,
    TrainingDue,
    training_due,
    training_hours_for,
    training_state,
)

RULE = "training_hours"


# Not frozen: a county's refresh makes some 10,000 a night, and a frozen dataclass is slow to make.
@dataclass(slots=True)
class Standing:
    member_id: int
    name: str
    initials: str  # pinyin initials: lists sort as a printed roster does
    category: str
    branch_id: int
    year: int
    due: TrainingDue
    done: Decimal
    state: str

    @property
    def short(self):
        return max(Decimal(self.due.hours) - self.done, Decimal(0))


def setting_on(settings, path, rule, day):
    """The setting of the rule in force on the day for the unit at path, or None: the latest effective
    date wins, and among settings of that date the nearest ancestor's (as for the meeting rules)."""
    chosen = None
    for s in settings:
        if s.rule != rule or s.effective_from > day or not path.startswith(s.organisation.path):
            continue
        rank = (s.effective_from, len(s.organisation.path))
        if chosen is None or rank > chosen[0]:
            chosen = (rank, s)
    return chosen[1] if chosen else None


def hours_in_force(settings, path, year):
    """(hours for everyone or None when the check is off, hours for the committee or None when off)."""
    first = date(year, 1, 1)
    base = setting_on(settings, path, RULE, first)
    committee = setting_on(settings, path, TRAINING_COMMITTEE, first)
    return _hours(base, TRAINING_HOURS, default_on=True), _hours(
        committee, COMMITTEE_TRAINING_HOURS, default_on=False
    )


def _hours(setting, default, *, default_on):
    """The hours a setting asks for (its count, else the default), None when it turns the check off."""
    if setting is None:
        return default if default_on else None
    return (setting.count or default) if setting.enabled else None


def standings(*, branches, years, as_of, settings, branch_filter=None, member_ids=None):
    """Each party member's standing for each year, in a fixed number of queries.

    branches: {branch_id: path} of the branches read; branch_filter: what `branch_id__in` takes for
    them (a list, or a subquery for every branch); member_ids: only these members.
    """
    if not years or not branches:
        return []
    branch_filter = list(branches) if branch_filter is None else branch_filter
    reads = standing_reads(branch_filter=branch_filter, years=years, member_ids=member_ids)
    rows = {name: list(qs) for name, qs in reads.items()}
    return standings_from(rows, branches=branches, years=years, as_of=as_of, settings=settings,
                          posts=lambda: _committee_posts(branch_filter, years, as_of))  # fmt: skip


def most_hours_owed(settings):
    """The most 学时 anyone can owe under the settings, whatever their branch, year or post."""
    owed = [TRAINING_HOURS]
    for s in settings:
        if s.enabled and s.rule in (RULE, TRAINING_COMMITTEE):
            owed.append(s.count or (TRAINING_HOURS if s.rule == RULE else COMMITTEE_TRAINING_HOURS))
    return max(owed)


def standing_reads(*, branch_filter, years, member_ids=None, short_of=None):
    """The querysets a year's standings are computed from, by name (the engine reads them with its own).

    short_of: for one year and every member, read only those who did fewer hours (`most_hours_owed`),
    with their hours: the others have met the rule whatever they owe, and most members have (a
    refresh flags only who is short). Then `training_short` replaces `training_people` and
    `training_done`: SHORT_FIELDS of each, the rest of the person (`ROSTER_PART`) being on the roster
    the engine reads anyway, and summed over narrow rows the hours cost a third less."""
    first, last = date(min(years), 1, 1), date(max(years), 12, 31)
    people = Member.objects.filter(
        branch_id__in=branch_filter,
        on_roster=True,
        status=Status.NORMAL,
        category__in=PARTY_MEMBER_CATEGORIES,
    )
    on_roster = {"member__branch_id__in": branch_filter, "member__on_roster": True}
    if member_ids is not None:
        people = people.filter(pk__in=member_ids)
        on_roster["member_id__in"] = member_ids
    live = {"voided_at__isnull": True, "held_on__gte": first, "held_on__lte": last}
    if short_of is not None and len(years) == 1 and member_ids is None:
        reads = {"training_short": _short_only(people, live, short_of).values(*SHORT_FIELDS)}
    else:
        reads = {
            "training_people": people.annotate(
                listed_on=_counted_from(Min("memberships__started_on"))
            ).values(*PEOPLE_FIELDS),
            "training_done": TrainingRecord.objects.filter(**on_roster, **live)
            .annotate(year=ExtractYear("held_on"))
            .values("member_id", "year")
            .annotate(hours=Sum("hours"))
            .order_by(),
        }
    return {
        **reads,
        "training_exempt": Exemption.objects.filter(**on_roster, voided_at__isnull=True, started_on__lte=last)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=first))
        .values_list("member_id", "started_on", "ended_on"),
    }


PEOPLE_FIELDS = ("pk", "name", "name_initials", "category", "branch_id", "joined_on", "listed_on")
ROSTER_PART = ("name", "category", "branch_id", "joined_on")  # of PEOPLE_FIELDS: not in the short read
SHORT_FIELDS = ("pk", "name_initials", "listed_on", "hours")


def short_people(rows, roster):
    """`training_people` for `standings_from` from a short read and the roster (dicts with ROSTER_PART):
    a person no longer on the roster read is left out."""
    on_roster = {person["pk"]: person for person in roster}
    people = []
    for row in rows["training_short"]:
        person = on_roster.get(row["pk"])
        if person is not None:
            # ROSTER_PART, spelled out: the keywords make the dict twice as fast as zipping the names
            people.append(dict(row, name=person["name"], category=person["category"], branch_id=person["branch_id"],
                               joined_on=person["joined_on"]))  # fmt: skip
    return people


def _short_only(people, live, short_of):
    """The members short of `short_of` hours in the year of `live`, with their hours: one pass over
    the year's records, joined on the year alone (not every year's) and summed per member. A member
    with none is short too. The first day on a roster is looked up for these few only."""
    year_records = FilteredRelation(
        "training_records",
        condition=Q(**{f"training_records__{name}": value for name, value in live.items()}),
    )
    first_listed = (
        Membership.objects.filter(member_id=OuterRef("pk")).order_by("started_on").values("started_on")[:1]
    )
    return (
        people.annotate(year_records=year_records)
        .annotate(hours=Sum("year_records__hours"))
        .filter(Q(hours__lt=short_of) | Q(hours__isnull=True))
        .annotate(listed_on=_counted_from(Subquery(first_listed)))
    )


def _counted_from(first_listed):
    """The day a member's hours are counted from: their first day on a roster here, or for an imported
    member the day their records began in this system if later (the years before are not judged and
    the year of the import is prorated from it, as for one who came that year)."""
    return Greatest(first_listed, Coalesce("records_from", first_listed))


def standings_from(rows, *, branches, years, as_of, settings, posts, unmet_only=False):
    """Standings from the rows of `standing_reads`. posts: [(branch_id, name, started_on, ended_on)] of
    the committee posts, or a function reading them (called only when some year needs them).
    unmet_only: leave out the years a member has done the most hours anyone of the branch can owe
    (the refresh flags only what is short; most members are not)."""
    years = sorted(years)
    people = rows["training_people"]  # in the roster's order when read alone
    if not people:
        return []
    if "training_done" in rows:
        done = {(row["member_id"], row["year"]): row["hours"] for row in rows["training_done"]}
    else:  # the short members of one year, read with their hours
        done = {(person["pk"], years[0]): person["hours"] for person in people}
    exempt = defaultdict(list)
    for member_id, started_on, ended_on in sorted(rows["training_exempt"], key=lambda row: row[:2]):
        exempt[member_id].append((started_on, ended_on))
    in_force = {
        (branch_id, year): hours_in_force(settings, path, year)
        for branch_id, path in branches.items()
        for year in years
    }
    committee = _committee_names(posts, in_force, years, as_of)
    result = []
    # A county's refresh judges some 10,000 short members a night: the loop takes each value once.
    for person in people:
        pk, branch_id = person["pk"], person["branch_id"]
        joined_on, listed_on = person["joined_on"], person["listed_on"]
        starts_on = max(joined_on, listed_on) if joined_on and listed_on else joined_on or listed_on
        exemptions = tuple(exempt[pk]) if pk in exempt else ()
        for year in years:
            base, committee_hours = in_force[(branch_id, year)]
            hours_done = done.get((pk, year)) or ZERO
            if unmet_only and (base is None or hours_done >= max(base, committee_hours or 0)):
                continue
            hours = training_hours_for(base=base, committee=committee_hours,
                                       on_committee=bool(committee) and person["name"] in committee.get((branch_id, year), ()))  # fmt: skip
            due = _due(year, starts_on, exemptions, hours)
            result.append(Standing(pk, person["name"], person["name_initials"], person["category"], branch_id, year,
                                   due, hours_done, training_state(due, hours_done, year=year, as_of=as_of)))  # fmt: skip
    return result


ZERO = Decimal(0)


def _due(year, starts_on, exemptions, hours):
    """training_due, remembered. What is owed depends on the start only through the first whole month
    owed: a start before the year counts as 1 January, one during a month as its 2nd. So the members
    who joined earlier and were never exempt — nearly all — share one answer, and the others one per
    month of the year."""
    if starts_on is not None and starts_on < date(year, 1, 1):
        starts_on = date(year, 1, 1)
    elif starts_on is not None and starts_on.year == year and starts_on.day > 2:
        starts_on = starts_on.replace(day=2)
    return _remembered_due(year, starts_on, exemptions, hours)


@lru_cache(maxsize=8192)
def _remembered_due(year, starts_on, exemptions, hours):
    return training_due(year, starts_on=starts_on, exemptions=exemptions, hours=hours)


def _committee_posts(branch_filter, years, as_of):
    return CommitteePosition.objects.filter(
        term__organisation_id__in=branch_filter, started_on__lte=min(date(max(years), 12, 31), as_of)
    ).values_list("term__organisation_id", "holder_name", "started_on", "ended_on")


def _committee_names(posts, in_force, years, as_of):
    """{(branch_id, year): names of the committee sitting on the year's last day (or as_of)}; the posts
    are read only when some branch has the committee's hours turned on for some year."""
    wanted = {key for key, (_base, committee) in in_force.items() if committee}
    if not wanted:
        return {}
    names = defaultdict(set)
    for branch_id, name, started_on, ended_on in posts() if callable(posts) else posts:
        for year in years:
            day = min(date(year, 12, 31), as_of)
            if (branch_id, year) in wanted and started_on <= day and (ended_on is None or ended_on > day):
                names[(branch_id, year)].add(name)
    return names
