"""Roster import from Excel: read the workbook, check every row, then commit in bulk.

Reading and checking need no database writes; commit does all its writes in one
transaction with bulk statements, so 5,000 rows take a handful of queries.
"""

import math
import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from django.db import transaction
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from simple_history.utils import bulk_update_with_history

from branches.models import Organisation, OrgLevel

from . import pipeline
from .idcard import normalise_id_number
from .models import Gender, Member
from .normalise import clean_text, parse_roster_date
from .services import (
    bulk_register,
    name_initials,
    records_begin_on,
    refresh_flags_on_commit,
    registered_already,
)
from .signals import roster_changed
from .validation import MemberFacts, check_member

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SCAN_ROWS = 15

COLUMNS = {
    "name": ("姓名",),
    "gender": ("性别",),
    "ethnicity": ("民族",),
    "birth_on": ("出生日期", "出生年月", "出生年月日"),
    "id_number": ("身份证号码", "身份证号", "公民身份号码", "身份证"),
    "education": ("学历", "文化程度", "最高学历"),
    "joined_on": ("入党时间", "入党日期", "加入党组织日期"),
    "confirmed_on": ("转正时间", "转正日期"),
    "category": ("人员类别", "党员类别", "类别", "人员类型"),
    "branch": ("所在党支部", "所在支部", "党支部", "支部名称"),
    "group": ("党小组", "所在党小组"),
    "work_unit": ("工作单位及职务", "工作单位", "单位及职务", "工作岗位"),
    "phone": ("联系电话", "手机号码", "手机", "电话"),
    "note": ("备注",),
    "applied_on": ("申请入党时间", "递交入党申请书时间", "申请入党日期"),
    "activist_on": ("确定积极分子时间", "列为积极分子时间", "确定为入党积极分子时间"),
    "candidate_on": ("确定发展对象时间", "列为发展对象时间"),
}
REQUIRED_COLUMNS = ("name", "id_number", "category", "branch")
DATE_COLUMNS = ("birth_on", "joined_on", "confirmed_on", "applied_on", "activist_on", "candidate_on")
CATEGORY_WORDS = {
    "正式党员": pipeline.FULL,
    "党员": pipeline.FULL,
    "预备党员": pipeline.PROBATIONARY,
    "发展对象": pipeline.CANDIDATE,
    "入党积极分子": pipeline.ACTIVIST,
    "积极分子": pipeline.ACTIVIST,
    "入党申请人": pipeline.APPLICANT,
    "申请人": pipeline.APPLICANT,
}
GENDER_WORDS = {"男": Gender.MALE, "女": Gender.FEMALE}
FREE_TEXT_COLUMNS = ("ethnicity", "education", "work_unit", "note")
# What 更新 writes to a member already registered: the personal details of a filled-in cell. Not the name
# (a row whose name differs is refused: the ID number is more likely mistyped than the person renamed),
# nor the branch, group, category or development dates, which change through 调动 and 发展 with their dates.
PERSONAL_UPDATE_FIELDS = ("ethnicity", "education", "phone", "work_unit", "note")

# Labels for messages, in Chinese, by field.
LABELS = {key: names[0] for key, names in COLUMNS.items()}


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says why, in Chinese."""


@dataclass
class RowResult:
    number: int  # the row number the user sees in Excel
    raw: dict
    errors: list = field(default_factory=list)  # [(column label, message)]
    warnings: list = field(default_factory=list)  # imported all the same
    action: str = "create"  # create / update / skip
    member: Member | None = None
    existing: Member | None = None
    # For a registered member: what 更新 would write, [(column label, registered value, the row's)], and
    # what the row says otherwise that no import applies, [(column label, registered value, the row's)].
    changes: list = field(default_factory=list)
    not_applied: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors


# ---------------------------------------------------------------- reading


def _check_container(fileobj, size):
    if size > MAX_FILE_BYTES:
        raise ImportFileError(
            f"文件过大（{size // 1024 // 1024} MB），请不超过 {MAX_FILE_BYTES // 1024 // 1024} MB。"
        )
    fileobj.seek(0)
    head = fileobj.read(8)
    fileobj.seek(0)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "文件是旧版 .xls 格式或已设置打开密码。请在 Excel 中取消密码，另存为“Excel 工作簿（*.xlsx）”后再导入。"
        )
    if not head.startswith(b"PK"):
        raise ImportFileError(
            "文件不是 .xlsx 格式（可能是改了扩展名的 CSV 或其他文件）。请另存为“Excel 工作簿（*.xlsx）”。"
        )
    try:
        with zipfile.ZipFile(fileobj) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise ImportFileError("文件已损坏，无法打开。") from error
    finally:
        fileobj.seek(0)
    if unpacked > MAX_UNZIPPED_BYTES:
        raise ImportFileError("文件解压后过大，疑似异常文件，已拒绝导入。")


def _header_map(row):
    """Map our field names to column indexes from one header row; unknown headers are ignored."""
    found = {}
    for index, cell in enumerate(row):
        text = clean_text(cell).replace(" ", "")
        for key, names in COLUMNS.items():
            if text in names and key not in found:
                found[key] = index
    return found


# What openpyxl raises for a damaged part found while the rows are read (read-only mode parses lazily):
# broken XML, a number cell that is not a number, a shared-string index past the table, a refused DTD.
UNREADABLE = (InvalidFileException, zipfile.BadZipFile, ParseError, KeyError, IndexError, OSError, ValueError,
              TypeError)  # fmt: skip
UNREADABLE_MESSAGE = (
    "无法读取该 Excel 文件，文件可能已损坏。请在 Excel 中打开后另存为“Excel 工作簿（*.xlsx）”再导入。"
)


def read_rows(fileobj, *, size):
    """(header map, [(excel row number, {field: raw value})]) from the first visible sheet."""
    _check_container(fileobj, size)
    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=False)
    except UNREADABLE as error:
        raise ImportFileError(UNREADABLE_MESSAGE) from error
    try:
        return _read_sheet(workbook)
    except ImportFileError:
        raise
    except UNREADABLE as error:
        raise ImportFileError(UNREADABLE_MESSAGE) from error
    finally:
        workbook.close()


def _read_sheet(workbook):
    """The header map and data rows of the first visible sheet."""
    sheet = next((ws for ws in workbook.worksheets if ws.sheet_state == "visible"), None)
    if sheet is None:
        raise ImportFileError("工作簿中没有可见的工作表。")
    rows = sheet.iter_rows(values_only=True)
    header, header_number = {}, 0
    for number, row in enumerate(rows, start=1):
        candidate = _header_map(row)
        if len(candidate) > len(header):
            header, header_number = candidate, number
        if all(key in header for key in REQUIRED_COLUMNS) or number >= HEADER_SCAN_ROWS:
            break
    missing = [LABELS[key] for key in REQUIRED_COLUMNS if key not in header]
    if missing:
        raise ImportFileError(
            f"没有找到必需的列：{'、'.join(missing)}（表头应在前 {HEADER_SCAN_ROWS} 行内）。"
        )
    data = []
    for number, row in enumerate(rows, start=header_number + 1):
        values = {key: row[index] if index < len(row) else None for key, index in header.items()}
        if not clean_text(values.get("name")) and not clean_text(values.get("id_number")):
            continue  # blank lines and footers (填表人, 合计 …)
        if len(data) >= MAX_ROWS:
            raise ImportFileError(f"数据超过 {MAX_ROWS} 行，请分批导入。")
        data.append((number, {key: _portable(value) for key, value in values.items()}))
    return header, data


def _portable(value):
    """Cell values as JSON-safe text or numbers (kept in the import record until commit)."""
    if hasattr(value, "isoformat"):
        return (
            value.date().isoformat() if hasattr(value, "date") and callable(value.date) else value.isoformat()
        )
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no infinity; as text the row check reports it like any bad cell
    if isinstance(value, int | float) or value is None:
        return value
    return str(value)


# ---------------------------------------------------------------- checking


def _parse_dates(raw, result, today):
    values = {}
    for key in DATE_COLUMNS:
        try:
            values[key] = parse_roster_date(raw.get(key), today=today)
        except ValueError as error:
            result.errors.append((LABELS[key], str(error)))
            values[key] = None
    return values


def _lookup_branch(raw, result, branches, groups):
    branch_name = clean_text(raw.get("branch"))
    matches = branches.get(branch_name, [])
    if not branch_name:
        result.errors.append((LABELS["branch"], "请填写所在党支部。"))
        return None, None
    if not matches:
        result.errors.append((LABELS["branch"], f"支部“{branch_name}”不存在或不在您的管理范围内。"))
        return None, None
    if len(matches) > 1:
        result.errors.append((LABELS["branch"], f"支部名称“{branch_name}”不唯一，请联系党委管理员。"))
        return None, None
    branch = matches[0]
    group_name = clean_text(raw.get("group"))
    group = None
    if group_name:
        group = groups.get((branch.pk, group_name))
        if group is None:
            result.errors.append((LABELS["group"], f"“{branch_name}”下没有“{group_name}”。"))
    return branch, group


def check_rows(rows, *, branches, groups, existing, mode, today, writable_branch_ids=None):
    """Check every row. branches: {name: [Organisation]}; groups: {(branch pk, name): group};
    existing: {id number: Member}; mode: 'skip' or 'update' for ID numbers already registered;
    writable_branch_ids: the branches whose members the import may update (None: all). A registered
    member's row is refused here, so that the preview says what committing would: outside those branches
    (with the registration form's words, naming nobody), off the roster, or under another name."""
    results, seen = [], {}
    for number, raw in rows:
        result = RowResult(number=number, raw=raw)
        results.append(result)
        dates = _parse_dates(raw, result, today)
        category_text = clean_text(raw.get("category")).replace(" ", "")
        category = CATEGORY_WORDS.get(category_text)
        if category is None:
            result.errors.append(
                (
                    LABELS["category"],
                    f"人员类别“{category_text}”无法识别（应为正式党员、预备党员、发展对象、入党积极分子或入党申请人）。",
                )
            )
            category = pipeline.FULL
        gender_text = clean_text(raw.get("gender"))
        if gender_text and gender_text not in GENDER_WORDS:
            result.errors.append((LABELS["gender"], f"性别“{gender_text}”应为“男”或“女”。"))
        facts = MemberFacts(
            name=clean_text(raw.get("name")),
            id_number=clean_text(raw.get("id_number")),
            category=category,
            gender=GENDER_WORDS.get(gender_text),
            phone=clean_text(raw.get("phone")),
            **dates,
        )
        cleaned, errors, warnings = check_member(facts, today=today)
        # A cell that could not be read is reported once, not again as "missing".
        unreadable = {column for column, _message in result.errors}
        result.errors.extend(
            (LABELS.get(key, key), message)
            for key, message in errors.items()
            if LABELS.get(key, key) not in unreadable
        )
        result.warnings.extend((LABELS.get(key, key), message) for key, message in warnings.items())
        branch, group = _lookup_branch(raw, result, branches, groups)
        number_key = cleaned.get("id_number")
        if number_key:
            if number_key in seen:
                result.errors.append((LABELS["id_number"], f"与第 {seen[number_key]} 行身份证号重复。"))
            seen.setdefault(number_key, number)
            result.existing = existing.get(number_key)
        if result.existing is not None:
            result.action = "update" if mode == "update" else "skip"
            _check_registered(result, cleaned, writable_branch_ids)
        result.errors.extend(_overlong_cells(raw))
        if result.ok:
            result.member = Member(
                branch=branch,
                group=group,
                category=category,
                ethnicity=clean_text(raw.get("ethnicity")) or "汉族",
                education=clean_text(raw.get("education")),
                work_unit=clean_text(raw.get("work_unit")),
                note=clean_text(raw.get("note")),
                **{k: v for k, v in dates.items() if k != "birth_on"},
                **cleaned,
            )
            result.member.name_initials = name_initials(result.member.name)
            if result.existing is not None:
                _compare_with_registered(result, mode)
    return results


def _name_key(name):
    """A name as compared with the registered one: spaces and the forms of the middle dot do not count."""
    return "".join(name.split()).translate(str.maketrans("•・‧∙⋅", "·····"))


def _check_registered(result, cleaned, writable_branch_ids):
    """Refuse the row of an ID number already registered that no import may touch, in both modes."""
    existing = result.existing
    in_scope = writable_branch_ids is None or existing.branch_id in writable_branch_ids
    if not in_scope or not existing.on_roster:
        result.errors.append((LABELS["id_number"], registered_already(existing, in_scope=in_scope)))
        return
    name = cleaned.get("name")
    if name and _name_key(name) != _name_key(existing.name):
        result.errors.append(
            (
                LABELS["name"],
                f"该身份证号已登记为“{existing.name}”，与本行姓名“{name}”不符，本行不导入。请核对身份证号；"
                f"如确需更正姓名，请在{existing.name}的党员页面修改。",
            )
        )


def _shown(value):
    if value is None or value == "":
        return "（空）"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _compare_with_registered(result, mode):
    """What 更新 would change (the personal details of the cells filled in), and what else in the row
    differs from the registered member and no import applies (a 提示 in either mode)."""
    existing, row = result.existing, result.member
    for key in PERSONAL_UPDATE_FIELDS:
        new = getattr(row, key)
        if clean_text(result.raw.get(key)) and new != getattr(existing, key):
            result.changes.append((LABELS[key], _shown(getattr(existing, key)), _shown(new)))
    if mode == "update" and not result.changes:
        result.action = "skip"  # nothing to write: the row matches what is registered
    if row.branch_id != existing.branch_id:
        result.not_applied.append((LABELS["branch"], existing.branch.name, row.branch.name))
        result.warnings.append(
            (
                LABELS["branch"],
                f"已登记在“{existing.branch.name}”，导入不调动组织关系；如需调动，请在该党员页面办理“调整支部/党小组”。",
            )
        )
    elif row.group_id is not None and row.group_id != existing.group_id:
        result.not_applied.append(
            (LABELS["group"], existing.group.name if existing.group else "（无）", row.group.name)
        )
        result.warnings.append(
            (LABELS["group"], "导入不调整党小组；如需调整，请在该党员页面办理“调整支部/党小组”。")
        )
    if row.category != existing.category:
        registered = existing.get_category_display()
        result.not_applied.append((LABELS["category"], registered, pipeline.CATEGORY_LABELS[row.category]))
        result.warnings.append(
            (
                LABELS["category"],
                f"已登记为{registered}，导入不改变人员类别；类别变化请在该党员页面按发展党员程序登记。",
            )
        )
    changed_dates = [
        key
        for key in DATE_COLUMNS
        if key != "birth_on" and getattr(row, key) and getattr(row, key) != getattr(existing, key)
    ]
    for key in changed_dates:
        result.not_applied.append((LABELS[key], _shown(getattr(existing, key)), _shown(getattr(row, key))))
    if changed_dates:
        labels = "、".join(LABELS[key] for key in changed_dates)
        result.warnings.append(
            (labels, "与已登记的不同，导入不改变发展日期；如登记有误，请在该党员页面“更正日期”。")
        )


def _overlong_cells(raw):
    """Free-text cells longer than their column (PostgreSQL would refuse the whole import)."""
    problems = []
    for key in FREE_TEXT_COLUMNS:
        limit = Member._meta.get_field(key).max_length
        length = len(clean_text(raw.get(key)))
        if length > limit:
            problems.append((LABELS[key], f"内容过长（最多{limit}个字，当前{length}个字）。"))
    return problems


def scope_lookups(branch_queryset):
    """Name lookups for the branches (and their groups) an import may write to."""
    branches = {}
    branch_list = list(branch_queryset.filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True))
    for branch in branch_list:
        branches.setdefault(branch.name, []).append(branch)
    by_path = {b.path: b for b in branch_list}
    groups = {}
    group_qs = Organisation.objects.filter(
        level=OrgLevel.GROUP, dissolved_on__isnull=True, depth__in={b.depth + 1 for b in branch_list}
    )
    for group in group_qs:
        parent = by_path.get(group.path[: -group.steplen])
        if parent is not None:
            groups[(parent.pk, group.name)] = group
    return branches, groups


def existing_members(rows):
    """{ID number: Member} of the rows' ID numbers registered already, wherever (an ID number is registered
    once); check_rows says no more of one outside the user's branches than that it is taken."""
    numbers = {
        normalise_id_number(clean_text(raw.get("id_number"))) for _n, raw in rows if raw.get("id_number")
    }
    found = {}
    numbers = sorted(numbers)
    for start in range(0, len(numbers), 900):
        for member in Member.objects.filter(id_number__in=numbers[start : start + 900]).select_related(
            "branch", "group"
        ):
            found[member.id_number] = member
    return found


# ---------------------------------------------------------------- committing


@transaction.atomic
def commit(results, *, strict, today):
    """Write the good rows checked by check_rows in bulk (or nothing, in strict mode with any bad row): the
    very rows, and outcomes, the preview showed.

    Returns {"created": n, "updated": n, "skipped": n, "failed": n}.
    """
    failed = [r for r in results if not r.ok]
    counts = {"created": 0, "updated": 0, "skipped": 0, "failed": len(failed)}
    if strict and failed:
        return counts
    to_create = [r.member for r in results if r.ok and r.existing is None]
    to_update = [r for r in results if r.ok and r.action == "update"]
    counts["skipped"] = sum(1 for r in results if r.ok and r.action == "skip")
    # A roster imported today brings no dues, reports or training from before: from this month on, the
    # system judges what it records (what came before may be entered, and is shown, but is not flagged).
    for member in to_create:
        member.records_from = records_begin_on(today)
    counts["created"] = len(bulk_register(to_create, today=today, start_reason="名册导入"))
    counts["updated"] = _update_existing(to_update)
    # The branches' flags are judged again once the import commits, as after any write to a member (the
    # nightly run leaves alone what the calendar has not moved).
    refresh_flags_on_commit(*(m.branch_id for m in to_create), *(r.existing.branch_id for r in to_update))
    return counts


def _update_existing(results):
    """Write each row's changes (check_rows found them: personal details of the cells filled in)."""
    members = []
    for result in results:
        existing = result.existing
        for field_name in PERSONAL_UPDATE_FIELDS:
            if clean_text(result.raw.get(field_name)):
                setattr(existing, field_name, getattr(result.member, field_name))
        members.append(existing)
    if members:
        bulk_update_with_history(members, Member, PERSONAL_UPDATE_FIELDS, batch_size=500)
        roster_changed.send(sender=Member, branch_ids={m.branch_id for m in members})
    return len(members)


# ---------------------------------------------------------------- the whole flow


def start_import(*, user, fileobj, filename, size):
    """Read an upload and keep its rows for the preview. Raises ImportFileError for an unreadable file."""
    from .models import RosterImport

    _header, rows = read_rows(fileobj, size=size)
    if not rows:
        raise ImportFileError("表中没有数据行。")
    return RosterImport.objects.create(uploaded_by=user, filename=filename[:200], rows=rows)


def check_import(*, rows, branch_queryset, mode, today):
    """Check the rows as the user may import them: into, and updating members of, branch_queryset."""
    branches, groups = scope_lookups(branch_queryset)
    return check_rows(
        rows,
        branches=branches,
        groups=groups,
        existing=existing_members(rows),
        mode=mode,
        today=today,
        writable_branch_ids=set(branch_queryset.values_list("pk", flat=True)),
    )


def run_import(*, rows, branch_queryset, mode, strict, today):
    """Check and commit; returns (results, counts)."""
    results = check_import(rows=rows, branch_queryset=branch_queryset, mode=mode, today=today)
    counts = commit(results, strict=strict, today=today)
    return results, counts


def preview_counts(results):
    """What committing the checked rows would do, row by row: {"create", "update", "skip" (registered
    already, left as they are), "failed" (rows with a problem, not imported), "warned" (rows that would be
    imported or updated and carry only 提示)}."""
    counts = dict.fromkeys(("create", "update", "skip", "failed", "warned"), 0)
    for result in results:
        counts[result.action if result.ok else "failed"] += 1
        if result.ok and result.warnings and result.action != "skip":
            counts["warned"] += 1
    return counts


def changes(results):
    """[(row number, name, [(column label, registered value, new value)])] of the rows 更新 writes."""
    return [(r.number, r.existing.name, r.changes) for r in results if r.ok and r.action == "update"]


def problems(results):
    """[(row number, column, message)] for the report, in row order; warnings say 提示."""
    return [
        (r.number, column, message if is_error else f"提示：{message}")
        for r in results
        for is_error, (column, message) in [*((True, e) for e in r.errors), *((False, w) for w in r.warnings)]
    ]
