"""Reads of the 操作记录: history rows of every audited model, newest first, with what changed.

Who sees what (decided with branches/access.py and DESIGN.md):
- The cross-record log is the oversight tool of the township office: roles holding Action.AUDIT
  (党委管理员, 党委领导, 党建指导员) see it for the subtrees where they hold that role, so a 党委
  or 党总支 office sees its own subtree and an instructor the branches assigned to them.
  Secretaries, 支委 and 党小组长 do not get the cross-record log: they see the 修改历史 of each
  record they can open (a meeting, a member), which is where their own work is checked.
- The history of one record is shown to whoever may view that record; the caller has checked
  that (get_meeting_for / get_member_for) and an out-of-scope record is a 404 there.
- 身份证号 and phones in old and new values are masked exactly as on the member's page.

Query count: one UNION query picks the page's (model, history id) keys, then one query for each
audited model that has rows on the page reads them together with each row's previous record
(for the "from → to"); foreign keys come by select_related. So a page costs at most two plus
the number of audited models (20), whatever the number of rows.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models import CharField, F, OuterRef, Q, Subquery, Value
from django.utils import timezone

from branches.access import (
    ROLE_ACTIONS,
    Action,
    may_see_personal_at,
    organisations_for,
    scope_paths,
    scoped,
)
from branches.models import Organisation, OrgLevel
from evaluations.models import Campaign
from meetings.models import Meeting
from members.models import Member

from .sources import BY_CODE, sources_of

PER_PAGE = 50
SYSTEM = "system"  # the editor filter's value for changes made without a signed-in user

HISTORY_TYPES = {"added": "+", "changed": "~", "deleted": "-"}
ACTION_LABELS = {"+": "新增", "~": "修改", "-": "删除"}
EMPTY = "（空）"

# Whose edits can appear: roles that write or review records, and superusers (through the admin).
WRITING_ROLES = [
    role for role, actions in ROLE_ACTIONS.items() if actions & {Action.RECORD, Action.MANAGE, Action.REVIEW}
]
OWNER_VIA = {Meeting: ("branch", "group"), Member: ("branch", "group"), Campaign: ("branch",)}


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class Entry:
    at: datetime
    editor: object  # a user, or None for the system
    what: str
    label: str
    url: str
    action: str
    reason: str = ""
    note: str = ""
    changes: list = field(default_factory=list)  # Change, for 修改
    values: list = field(default_factory=list)  # (label, value), for 新增 and 删除
    before_unknown: bool = False  # a change whose earlier state was never recorded


@dataclass
class AuditPage:
    entries: list
    number: int
    has_previous: bool
    has_next: bool

    @property
    def previous_page_number(self):
        return self.number - 1

    @property
    def next_page_number(self):
        return self.number + 1


# ---------------------------------------------------------------- scope and filters


def _owners(user, owner_model, within):
    """Live owners in the user's audit scope (and within an organisation's subtree), as a subquery."""
    if owner_model is Organisation:
        qs = organisations_for(user, Action.AUDIT)
        return qs.filter(path__startswith=within.path) if within else qs
    qs = scoped(owner_model.objects.all(), user, Action.AUDIT, via=OWNER_VIA[owner_model])
    return qs.filter(branch__path__startswith=within.path) if within else qs


def _history_filter(*, editor, since, until, action):
    condition = Q()
    if editor == SYSTEM:
        condition &= Q(history_user__isnull=True)
    elif editor is not None:
        condition &= Q(history_user_id=editor)
    if since:
        condition &= Q(history_date__gte=_start_of(since))
    if until:
        condition &= Q(history_date__lt=_start_of(until + timedelta(days=1)))
    if action in HISTORY_TYPES:
        condition &= Q(history_type=HISTORY_TYPES[action])
    return condition


def _start_of(day):
    """Midnight in Asia/Shanghai: the office's days, not UTC's."""
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_organisations(user):
    """Organisations the user may filter the log by: their audit scope, above the level of groups."""
    return (
        organisations_for(user, Action.AUDIT)
        .exclude(level=OrgLevel.GROUP)
        .only("pk", "name", "depth", "path")
        .order_by("path")
    )


def editors(user):
    """Users whose edits can show in the user's log: writers placed in the scope or above it."""
    users = get_user_model().objects.all()
    if user.is_superuser:
        placed = Q(role_assignments__role__in=WRITING_ROLES)
    else:
        paths = scope_paths(user, Action.AUDIT)
        step = Organisation.steplen
        above = {path[:end] for path in paths for end in range(step, len(path), step)}
        within = Q(role_assignments__organisation__path__in=above)
        for path in paths:
            within |= Q(role_assignments__organisation__path__startswith=path)
        placed = within & Q(role_assignments__role__in=WRITING_ROLES)
    return users.filter(placed | Q(is_superuser=True)).distinct().order_by("username")


# ---------------------------------------------------------------- the page


def audit_log(user, *, kind=None, within=None, editor=None, since=None, until=None, action=None, page=1,
              per_page=PER_PAGE):  # fmt: skip
    """The user's audit log. kind: a key of sources.KINDS; within: an organisation in scope;
    editor: a user id or SYSTEM; since / until: days (inclusive); action: added, changed or deleted."""
    condition = _history_filter(editor=editor, since=since, until=until, action=action)
    owners = {}
    arms = []
    for source in sources_of(kind=kind):
        if source.owner_model not in owners:
            owners[source.owner_model] = _owners(user, source.owner_model, within).values("pk")
        rows = source.history_model.objects.filter(**{f"{source.owner}__in": owners[source.owner_model]})
        arms.append((source, rows.filter(condition)))
    return _page(user, arms, page=page, per_page=per_page)


def object_history(user, obj, *, page=1, per_page=PER_PAGE, parts_added=True):
    """The history of one meeting or member and of the records that belong to it.

    parts_added=False leaves out the adding of its parts (attendance rows, types, dues, reports):
    the record's own page lists those already, and its 修改历史 section keeps to what changed.
    The caller has checked that the user may view obj (out of scope is a 404 there).
    """
    arms = []
    for source in sources_of(owner_model=type(obj)):
        rows = source.history_model.objects.filter(**{source.owner: obj.pk})
        if not parts_added and source.model is not source.owner_model:
            rows = rows.exclude(history_type="+")
        arms.append((source, rows))
    return _page(user, arms, page=page, per_page=per_page)


def _page(user, arms, *, page, per_page):
    offset = (page - 1) * per_page
    keys = _page_keys(arms, offset=offset, limit=per_page + 1)
    has_next = len(keys) > per_page
    keys = keys[:per_page]
    wanted = {}
    for code, _at, history_id in keys:
        wanted.setdefault(code, []).append(history_id)
    rows = {code: _rows_with_previous(BY_CODE[code], ids) for code, ids in wanted.items()}
    entries = [_entry(user, BY_CODE[code], rows[code], history_id) for code, _at, history_id in keys]
    return AuditPage(entries=entries, number=page, has_previous=page > 1, has_next=has_next)


def _page_keys(arms, *, offset, limit):
    """(source code, moment, history id) of one page across every model, newest first, in one query."""
    parts = [
        rows.annotate(
            src=Value(source.code, output_field=CharField()), at=F("history_date"), hid=F("history_id")
        )
        .values_list("src", "at", "hid")
        .order_by()  # history models sort by date: not inside a UNION
        for source, rows in arms
    ]
    if not parts:
        return []
    if len(parts) == 1:
        combined = parts[0]
    else:
        if connection.features.supports_slicing_ordering_in_compound:
            # Each model needs at most its own newest offset + limit rows; the union then sorts only those.
            parts = [part.order_by("-at", "-hid")[: offset + limit] for part in parts]
        combined = parts[0].union(*parts[1:], all=True)
    return list(combined.order_by("-at", "src", "-hid")[offset : offset + limit])


def _previous(history_model, pk_name):
    """The history id of the same object's record just before this one."""
    same_object = history_model.objects.filter(**{pk_name: OuterRef(pk_name)})
    earlier = Q(history_date__lt=OuterRef("history_date")) | Q(
        history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id")
    )
    return Subquery(
        same_object.filter(earlier).order_by("-history_date", "-history_id").values("history_id")[:1]
    )


def _rows_with_previous(source, ids):
    """The page's rows of one model and the record before each change, in one query, by history id."""
    model = source.history_model
    pk_name = source.model._meta.pk.attname
    previous = _previous(model, pk_name)
    page_rows = model.objects.filter(history_id__in=ids)
    before = page_rows.filter(history_type="~").annotate(previous_id=previous).values("previous_id")
    rows = (
        model.objects.filter(Q(history_id__in=ids) | Q(history_id__in=before))
        .annotate(previous_id=previous)
        .select_related(*_foreign_keys(model), *source.related)
    )
    if source.masked:
        rows = rows.annotate(**_member_paths(source.owner))
    return {row.history_id: row for row in rows}


def _foreign_keys(model):
    return [f.name for f in model._meta.fields if f.is_relation and f.many_to_one]


def _member_paths(owner):
    member = Member.objects.filter(pk=OuterRef(owner))
    return {
        "owner_branch_path": Subquery(member.values("branch__path")[:1]),
        "owner_group_path": Subquery(member.values("group__path")[:1]),
        "owner_user_id": Subquery(member.values("user_id")[:1]),
    }


# ---------------------------------------------------------------- one entry


def _entry(user, source, rows, history_id):
    row = rows[history_id]
    entry = Entry(
        at=row.history_date,
        editor=row.history_user,
        what=str(source.verbose_name),
        label=source.label(row),
        url=source.link(row),
        action=ACTION_LABELS[row.history_type],
        note=row.history_change_reason or "",
    )
    if row.history_type == "~":
        _describe_change(user, source, entry, row, rows.get(row.previous_id))
    else:
        entry.values = [
            (_label(source, name, row), _shown(user, source, row, name))
            for name in source.shown_when_added
            if getattr(row, source.history_model._meta.get_field(name).attname) not in (None, "")
        ]
    return entry


def _describe_change(user, source, entry, row, before):
    if before is None:  # history began after the record was made (bulk-loaded data): nothing to compare
        if source.void and getattr(row, source.void[0]) is not None:
            # Its first kept state is void, and a void record takes no further edits: this was the void.
            entry.action, entry.reason = source.void_label, getattr(row, source.void[1])
        else:
            entry.before_unknown = True
        return
    excluded = set(source.hidden)
    if source.void:
        moment, reason = source.void
        if getattr(before, moment) is None and getattr(row, moment) is not None:
            entry.action, entry.reason = source.void_label, getattr(row, reason)
            excluded |= {moment, reason}
    if entry.reason and entry.reason in entry.note:  # the change reason only repeats it ("撤销：…")
        entry.note = ""
    delta = row.diff_against(before, excluded_fields=excluded)
    entry.changes = [
        Change(_label(source, name, row), _shown(user, source, before, name), _shown(user, source, row, name))
        for name in _in_model_order(source, delta.changed_fields)
    ]


def _in_model_order(source, names):
    order = {f.name: i for i, f in enumerate(source.history_model._meta.fields)}
    return sorted(names, key=order.__getitem__)


def _label(source, name, record):
    described = source.described and source.described(record, name)
    return described[0] if described else str(source.history_model._meta.get_field(name).verbose_name)


def _shown(user, source, record, name):
    """A field's value as the page shows it: choices by label, dates in Shanghai, personal data masked,
    and what the source says of its own (a local setting's value)."""
    model_field = source.history_model._meta.get_field(name)
    value = getattr(record, model_field.attname)
    if value is None or value == "":
        return EMPTY
    described = source.described and source.described(record, name)
    if described:
        return described[1]
    if model_field.is_relation:
        return _person_or_thing(getattr(record, name))
    if name in source.masked:
        return _masked(user, source, record, name, value)
    return _plain(model_field, value)


def _plain(model_field, value):
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, models.BooleanField):
        return "是" if value else "否"
    if isinstance(model_field, models.DateTimeField):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if isinstance(model_field, models.DateField):
        return f"{value:%Y-%m-%d}"
    if isinstance(model_field, models.TimeField):
        return f"{value:%H:%M}"
    return str(value)


def _person_or_thing(obj):
    if obj is None:
        return "（已删除）"
    if isinstance(obj, get_user_model()):
        return obj.get_full_name() or obj.get_username()
    return str(obj)


def _masked(user, source, record, name, value):
    roles, mask = source.masked[name]
    if record.owner_user_id is not None and record.owner_user_id == user.pk:
        return value
    # As on the member's page: the ID number by the branch, phones by the group if there is one.
    path = (
        record.owner_branch_path
        if name == "id_number"
        else (record.owner_group_path or record.owner_branch_path)
    )
    if path is not None and may_see_personal_at(user, path, roles):
        return value
    return mask(value)
