from django import forms
from django.utils import timezone

from branches.forms import DATE_INPUT, SafeForm, submit_token_field
from branches.models import Organisation
from members.names import distinct_labels

from .models import MeetingType, ReviewState

TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class MeetingForm(SafeForm):
    types = forms.MultipleChoiceField(
        label="会议类型（可多选）", choices=MeetingType.choices, widget=forms.CheckboxSelectMultiple
    )
    group = forms.ModelChoiceField(
        label="党小组（党小组会）", queryset=Organisation.objects.none(), required=False
    )
    held_on = forms.DateField(label="召开日期", widget=DATE_INPUT, initial=timezone.localdate)
    start_time = forms.TimeField(label="开始时间", widget=TIME_INPUT, required=False)
    place = forms.CharField(label="地点", max_length=100, required=False)
    topic = forms.CharField(label="主题", max_length=200)
    host = forms.CharField(label="主持人", max_length=50, required=False)
    recorder = forms.CharField(label="记录人", max_length=50, required=False)
    lecturer = forms.CharField(label="主讲人（党课）", max_length=50, required=False)
    content = forms.CharField(label="会议内容/记录", widget=forms.Textarea(attrs={"rows": 5}), required=False)
    resolutions = forms.CharField(label="决议事项", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    guests = forms.CharField(label="列席人员", max_length=300, required=False)
    for_year = forms.IntegerField(label="组织生活会所属年度", required=False, min_value=2000, max_value=2100)
    opinions = forms.CharField(label="会前征求意见", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    talks_summary = forms.CharField(
        label="会前谈心谈话", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    self_examination = forms.CharField(
        label="对照检查材料", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    criticism = forms.CharField(
        label="批评与自我批评", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    reported_on = forms.DateField(label="报告上级党委日期", widget=DATE_INPUT, required=False)
    off_day_approved_by = forms.CharField(label="主题党日改期批准人", max_length=50, required=False)
    off_day_approved_on = forms.DateField(label="改期批准日期", widget=DATE_INPUT, required=False)
    backfill_reason = forms.CharField(label="补录原因", max_length=200, required=False)
    token = submit_token_field()

    GROUPS = {
        "basic": [
            "types",
            "group",
            "held_on",
            "start_time",
            "place",
            "topic",
            "host",
            "recorder",
            "lecturer",
        ],
        "minutes": ["content", "resolutions", "guests"],
        "org_life": ["for_year", "opinions", "talks_summary", "self_examination", "criticism", "reported_on"],
        "theme_day": ["off_day_approved_by", "off_day_approved_on"],
        "backfill": ["backfill_reason"],
    }

    def __init__(self, *args, groups, allowed_types=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
        self.fields["group"].label_from_instance = lambda g: g.name
        self.fields["group"].error_messages["invalid_choice"] = (
            "请从列表中选择党小组：所选党小组不在您可记录的范围内。"
        )
        if allowed_types is not None:
            self.fields["types"].choices = [(t.value, t.label) for t in allowed_types]
            self.fields["types"].error_messages["invalid_choice"] = (
                "您只能记录" + "、".join(t.label for t in allowed_types) + "，不能改为其他会议类型。"
            )
            self._leave_out(allowed_types)

    # What only some types of meeting have: left out of the form of a user who may record none of them.
    FIELDS_OF_TYPE = {"group": MeetingType.GROUP_MEETING, "lecturer": MeetingType.PARTY_LECTURE}
    SECTIONS_OF_TYPE = {"org_life": MeetingType.ORG_LIFE_MEETING, "theme_day": MeetingType.THEME_DAY}

    def _leave_out(self, allowed_types):
        """A 党小组长 records 党小组会 only: no 主讲人, no 组织生活会 records, no 主题党日 改期批准 to skip past.
        A field left out is neither shown nor saved, so a correction keeps what the record had."""
        left_out = [name for name, type_ in self.FIELDS_OF_TYPE.items() if type_ not in allowed_types]
        for section, type_ in self.SECTIONS_OF_TYPE.items():
            if type_ not in allowed_types:
                left_out.extend(self.GROUPS[section])
        for name in left_out:
            del self.fields[name]

    @property
    def sections(self):
        """Bound fields by page section, for the template; a section whose fields are all left out is not there."""
        sections = {
            name: [self[field] for field in fields if field in self.fields]
            for name, fields in self.GROUPS.items()
        }
        return {name: fields for name, fields in sections.items() if fields}

    def details(self):
        data = dict(self.cleaned_data)
        for key in ("types", "group", "held_on", "topic", "token"):
            data.pop(key, None)
        if data.get("for_year") is None and MeetingType.ORG_LIFE_MEETING in self.cleaned_data["types"]:
            data["for_year"] = self.cleaned_data["held_on"].year
        return data


class RectificationForm(SafeForm):
    problem = forms.CharField(label="问题", max_length=200, required=False)
    measure = forms.CharField(label="整改措施", max_length=300, required=False)
    owner = forms.CharField(label="责任人", max_length=50, required=False)
    due_on = forms.DateField(label="整改期限", widget=DATE_INPUT, required=False)

    def __init__(self, *args, held_on=None, **kwargs):
        """held_on: the meeting date as posted (when it is a date), which no 整改期限 may precede."""
        super().__init__(*args, **kwargs)
        self.held_on = held_on
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.HiddenInput):
                continue
            field.widget.attrs.setdefault("aria-label", field.label)
            is_tick = isinstance(field.widget, forms.CheckboxInput)
            field.widget.attrs.setdefault(
                "class", "form-check-input" if is_tick else "form-control form-control-sm"
            )
            if name in ("problem", "measure", "owner"):
                field.widget.attrs.setdefault("placeholder", field.label)

    def clean(self):
        data = super().clean()
        if data.get("void"):  # a saved item voided (SavedRectificationForm): nothing else of it matters
            return data
        if data.get("problem") and not (data.get("owner") and data.get("due_on")):
            missing = [
                self.fields[n].label for n in ("owner", "due_on") if not data.get(n) and n not in self.errors
            ]
            for name in ("owner", "due_on"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, f"整改事项须填写{'和'.join(missing)}。")
        due_on = data.get("due_on")
        if due_on and self.held_on and due_on < self.held_on and data.get("problem"):
            self.add_error("due_on", DUE_BEFORE_MEETING)
        return data


DUE_BEFORE_MEETING = "整改期限不能早于会议召开日期。"


class SavedRectificationForm(RectificationForm):
    """A saved 整改事项 on the edit page: corrected in place, marked done, or voided (never deleted)."""

    id = forms.IntegerField(widget=forms.HiddenInput)
    done_on = forms.DateField(label="完成日期", widget=DATE_INPUT, required=False)
    void = forms.BooleanField(label="作废", required=False)
    void_reason = forms.CharField(label="作废原因", max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("void"):
            if not (data.get("void_reason") or "").strip():
                self.add_error("void_reason", "勾选作废时请填写作废原因。")
            return data
        if not data.get("problem") and "problem" not in self.errors:
            self.add_error("problem", "已保存的整改事项不能清空；如需去掉，请勾选“作废”并填写原因。")
        done_on = data.get("done_on")
        if done_on and done_on > timezone.localdate():
            self.add_error("done_on", "完成日期不能晚于今天。")
        elif done_on and self.held_on and done_on < self.held_on:
            self.add_error("done_on", "完成日期不能早于会议召开日期。")
        return data


RectificationFormSet = forms.formset_factory(RectificationForm, extra=3, max_num=20)
SavedRectificationFormSet = forms.formset_factory(SavedRectificationForm, extra=0, max_num=200)


class VoidForm(SafeForm):
    reason = forms.CharField(label="作废原因", max_length=200)


class ReviewForm(SafeForm):
    decision = forms.ChoiceField(
        label="审核",
        choices=[(ReviewState.CONFIRMED, "确认"), (ReviewState.RETURNED, "退回修改")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label="意见", max_length=300, required=False)


def person_choices(people, labels=None):
    """(pk, label) of the people in their order for a drop-down, a namesake told apart by members.names'
    distinct_labels (labels: those already worked out for the page, which lists these people and maybe more)."""
    labels = labels if labels is not None else distinct_labels(people)
    return [(person.pk, labels[person.pk]) for person in people]


def _choose_people(form, members, choices):
    """The two people fields of a talk form: chosen among `members`, offered as `choices` (person_choices, read
    once by the page rather than once per drop-down), each namesake with what tells them apart."""
    for name in TalkRowForm.PEOPLE:
        field = form.fields[name]
        field.queryset = members
        field.error_messages["invalid_choice"] = "所选人员不在本支部名册中，请重新选择。"
        if choices is not None:
            field.choices = [("", field.empty_label), *choices]


class TalkRowForm(SafeForm):
    initiator = forms.ModelChoiceField(label="谈话人", queryset=None, required=False)
    counterpart = forms.ModelChoiceField(label="谈话对象", queryset=None, required=False)
    topic = forms.CharField(label="主要内容", max_length=200, required=False)

    PEOPLE = ("initiator", "counterpart")

    def __init__(self, *args, members=None, choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        _choose_people(self, members, choices)

    def clean(self):
        """A row begun but without both people is asked for the one missing, not skipped as if blank."""
        data = super().clean()
        filled = [self.fields[name].label for name in (*self.PEOPLE, "topic") if data.get(name)]
        if filled:
            for name in self.PEOPLE:
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, f"请选择（本行已填写{'、'.join(filled)}）。")
        return data


class TalkDateForm(SafeForm):
    talked_on = forms.DateField(label="谈话日期", widget=DATE_INPUT, initial=timezone.localdate)


class TalkCorrectionForm(SafeForm):
    """One saved talk corrected: its date, its two people, its 主要内容."""

    talked_on = forms.DateField(label="谈话日期", widget=DATE_INPUT)
    initiator = forms.ModelChoiceField(label="谈话人", queryset=None, empty_label="请选择")
    counterpart = forms.ModelChoiceField(label="谈话对象", queryset=None, empty_label="请选择")
    topic = forms.CharField(label="主要内容", max_length=200, required=False)

    def __init__(self, *args, members, choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        _choose_people(self, members, choices)

    def clean(self):
        data = super().clean()
        initiator, counterpart = data.get("initiator"), data.get("counterpart")
        if initiator and initiator == counterpart:
            self.add_error("counterpart", "谈话对象不能是谈话人本人。")
        return data
