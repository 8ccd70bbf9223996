from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from simple_history.admin import SimpleHistoryAdmin
from treebeard.admin import TreeAdmin
from treebeard.forms import MoveNodeForm, movenodeform_factory

from meetings.signals import announce_on_commit

from .models import (
    ALLOWED_PARENT_LEVELS,
    AccountEvent,
    CommitteePosition,
    CommitteeTerm,
    Organisation,
    OrgLevel,
    RoleAssignment,
)
from .services import branches_of, check_name_free, check_parent, move_organisation


class NoDeleteMixin:
    """Records are dissolved or voided in the application, never deleted."""

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyMixin(NoDeleteMixin):
    """Records that only the application writes (flags, exports, campaigns): shown, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RefreshFlagsMixin:
    """An edit saved here bypasses the application's services, which refresh the compliance flags of the
    branches they touch once committed: so does this, or the edit would show on the work list only when
    a night next judges its rules. The branches touched before the edit are refreshed too (a group moved
    out of a branch, a setting moved to another 党委). `organisation_of(obj)`: what the object touches."""

    def save_form(self, request, form, change):
        # Read before the form saves: the tree's move form moves the node here, others change it in memory.
        before = self.model.objects.filter(pk=form.instance.pk).first() if change else None
        branch_ids = branches_of(self.organisation_of(before)) if before else []
        obj = super().save_form(request, form, change)
        obj._before, obj._branches_before = before, branch_ids
        return obj

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        before = getattr(obj, "_branches_before", [])
        self.refresh_on_commit(list(dict.fromkeys([*before, *branches_of(self.organisation_of(obj))])), obj)

    def organisation_of(self, obj):
        return obj.organisation

    def refresh_on_commit(self, branch_ids, obj):
        announce_on_commit(self.model, branch_ids)


class OrganisationAdminForm(MoveNodeForm):
    """The tree's rules, as the tree page applies them: a level only under the levels it may stand under,
    one active name per parent. A move goes through the drag and drop (`move_node`, the service): moving a
    党小组 to another branch takes its members along, which saving this form would not."""

    POSITIONS = [
        ("first-child", "作为其下级"),
        ("left", "与其同级，排在其前"),
        ("right", "与其同级，排在其后"),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # treebeard's own labels are not translated into Chinese
        self.fields["treebeard_position"].label = "位置"
        self.fields["treebeard_position"].choices = self.POSITIONS
        self.fields["treebeard_ref_node"].label = "相对于"
        self.fields["treebeard_ref_node"].empty_label = "（最上级）"

    def clean(self):
        data = super().clean()
        if self.errors:
            return data  # a field's own error is shown already; the place cannot be told without it
        level, name = data["level"], data["name"]
        parent = self._parent(data.get("treebeard_ref_node"), data["treebeard_position"])
        adding = self.instance._state.adding
        current = None if adding else Organisation.objects.get_parent(self.instance)
        if not adding and getattr(parent, "pk", None) != getattr(current, "pk", None):
            raise ValidationError("移动党组织请在列表中拖动，或在组织树页面操作（党小组的党员随之转移）。")
        # Only what changes is checked: a group of a dissolved branch keeps its place, a dissolved
        # organisation its name, whatever else is corrected.
        try:
            if adding or "level" in self.changed_data:
                check_parent(level=level, parent=parent)
            if adding or "name" in self.changed_data:
                check_name_free(name=name, parent=parent, exclude_pk=self.instance.pk)
            if not adding and "level" in self.changed_data:
                self._check_children(OrgLevel(level))
        except ValidationError as error:
            raise ValidationError(error.messages) from error
        return data

    @staticmethod
    def _parent(ref, position):
        if ref is None:
            return None
        return ref if position in ("first-child", "sorted-child") else Organisation.objects.get_parent(ref)

    def _check_children(self, level):
        for child in Organisation.objects.get_children(self.instance):
            if level not in ALLOWED_PARENT_LEVELS[OrgLevel(child.level)]:
                raise ValidationError(
                    f"其下有{child.get_level_display()}“{child.name}”，不能改为{level.label}。"
                )


@admin.register(Organisation)
class OrganisationAdmin(RefreshFlagsMixin, NoDeleteMixin, SimpleHistoryAdmin, TreeAdmin):
    form = movenodeform_factory(Organisation, form=OrganisationAdminForm)
    # Dissolving goes through the application's 撤销 (its groups with it, never over active branches).
    readonly_fields = ["dissolved_on", "dissolve_reason"]
    list_display = ["name", "level", "kind", "founded_on", "merged_group", "dissolved_on"]
    list_filter = ["level", "kind", "merged_group"]
    search_fields = ["name"]

    def organisation_of(self, obj):
        return obj

    def move_node(self, request):
        """Drag and drop in the list moves through the application's service, as the tree page does: it
        checks the levels and names, keeps the move in the history and refreshes the branches' flags."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        node = Organisation.objects.filter(pk=_id(request.POST.get("node"))).first()
        target = Organisation.objects.filter(pk=_id(request.POST.get("target"))).first()
        relation = request.POST.get("relation")
        if node is None or target is None or relation not in ("child", "sibling"):
            return HttpResponseBadRequest("请求无效")
        new_parent = target if relation == "child" else Organisation.objects.get_parent(target)
        try:
            if new_parent is None:
                raise ValidationError("不能移动为最上级党委。")
            move_organisation(organisation=node, new_parent=new_parent)
        except ValidationError as error:
            messages.error(request, "；".join(error.messages))
            return HttpResponseBadRequest("；".join(error.messages))
        messages.success(request, f"已将“{node.name}”移至“{new_parent.name}”之下。")
        return HttpResponse("OK")


def _id(value):
    return int(value) if value and str(value).isdigit() else None


class CommitteePositionInline(admin.TabularInline):
    model = CommitteePosition
    extra = 0

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CommitteeTerm)
class CommitteeTermAdmin(RefreshFlagsMixin, NoDeleteMixin, SimpleHistoryAdmin):
    list_display = ["organisation", "elected_on", "ends_on"]
    search_fields = ["organisation__name"]
    autocomplete_fields = ["organisation"]
    inlines = [CommitteePositionInline]


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What the offices did to accounts (账号管理): readable here, never edited."""

    list_display = ["account", "kind", "detail", "by", "at"]
    list_filter = ["kind"]
    search_fields = ["account__username"]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(SimpleHistoryAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]

    def get_readonly_fields(self, request, obj=None):
        # A grant is made or withdrawn, never moved: each township's 操作记录 (scoped by the grant's
        # organisation) then shows its own side of a change, a 新增 in one and a 删除 in the other.
        return ["user", "organisation", "role"] if obj is not None else []
