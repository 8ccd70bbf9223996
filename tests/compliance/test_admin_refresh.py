"""Edits saved in the Django admin site bypass the services: they refresh the flags of what they touch too."""

from datetime import date

from dateutil.relativedelta import relativedelta
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from branches.models import Organisation
from compliance import engine
from compliance.models import Flag, RuleSetting
from members.models import Member
from tests.conftest import make_org


def open_rules(**filters):
    return set(Flag.objects.filter(resolved_on__isnull=True, **filters).values_list("rule", flat=True))


def test_a_setting_added_in_the_admin_site_refreshes_the_branches_below_on_commit(
    client, personas, branch, tree, django_capture_on_commit_callbacks
):
    engine.refresh(as_of=timezone.localdate())
    assert "theme_day" in open_rules(branch=branch)
    client.force_login(personas["superuser"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:compliance_rulesetting_add"), {
            "organisation": tree.township.pk, "rule": "theme_day", "count": "", "period_kind": "",
            "effective_from": "2025-01-01", "created_by": personas["superuser"].pk,
        })  # fmt: skip
    assert response.status_code == 302
    assert "theme_day" not in open_rules(branch=branch)  # turned off for the township: resolved at once
    assert "theme_day" in open_rules(branch=tree.b1)  # another township's branch


def _change_form_data(member, **changes):
    """The admin change form's fields as a browser posts them back, with some changed."""
    request = RequestFactory().get("/")
    form = admin.site._registry[Member].get_form(request, member)(instance=member)
    data = {}
    for name, field in form.fields.items():
        value = changes.get(name, form.initial.get(name, field.initial))
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else str(value)
    return data


def test_a_member_edited_in_the_admin_site_refreshes_their_branch_on_commit(
    client, personas, branch, django_capture_on_commit_callbacks
):
    member = branch.people[2]
    engine.refresh(as_of=timezone.localdate())
    assert "lost_contact" not in open_rules(member=member)
    lost_on = timezone.localdate() - relativedelta(months=7)
    client.force_login(personas["superuser"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:members_member_change", args=[member.pk]),
            _change_form_data(member, lost_contact_on=lost_on),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Member.objects.get(pk=member.pk).lost_contact_on == lost_on
    assert "lost_contact" in open_rules(member=member)


def test_a_setting_moved_to_another_township_in_the_admin_site_refreshes_both(
    client, personas, branch, tree, django_capture_on_commit_callbacks
):
    admin_user = personas["superuser"]
    setting = RuleSetting.objects.create(organisation=tree.township, rule="theme_day", enabled=False,
                                         effective_from=date(2025, 1, 1), created_by=admin_user)  # fmt: skip
    engine.refresh(as_of=timezone.localdate())
    assert "theme_day" not in open_rules(branch=branch) and "theme_day" in open_rules(branch=tree.b1)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:compliance_rulesetting_change", args=[setting.pk]), {
            "organisation": tree.other_township.pk, "rule": "theme_day", "count": "", "period_kind": "",
            "effective_from": "2025-01-01", "created_by": admin_user.pk,
        })  # fmt: skip
    assert response.status_code == 302
    assert "theme_day" in open_rules(branch=branch)  # the township it left: checked again
    assert "theme_day" not in open_rules(branch=tree.b1)


def test_a_group_dragged_to_another_branch_in_the_admin_list_moves_through_the_service(
    client, personas, branch, tree, django_capture_on_commit_callbacks
):
    engine.refresh(as_of=timezone.localdate())
    keys = set(Flag.objects.filter(group=tree.g2, resolved_on=None).values_list("key", flat=True))
    assert keys
    client.force_login(personas["superuser"])
    url = reverse("admin:branches_organisation_changelist") + "move/"
    refused = client.post(url, {"node": tree.a2.pk, "target": tree.g1.pk, "relation": "child"})
    assert refused.status_code == 400  # a 党支部 under a 党小组: refused as on the tree page
    assert Organisation.objects.get_parent(Organisation.objects.get(pk=tree.a2.pk)) == tree.township
    merged = client.post(url, {"node": tree.g2.pk, "target": tree.a2.pk, "relation": "child"})
    assert merged.status_code == 400  # 甲村 is 支组合一: it has no 党小组
    other = make_org(tree.community, "甲社区第二党支部")
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(url, {"node": tree.g2.pk, "target": other.pk, "relation": "child"})
    assert moved.status_code == 200
    group = Organisation.objects.get(pk=tree.g2.pk)
    assert Organisation.objects.get_parent(group) == other
    assert group.history.first().history_change_reason == "由“甲社区第一党支部”移至“甲社区第二党支部”"
    held = set(Flag.objects.filter(group=group, resolved_on=None).values_list("key", "branch_id"))
    assert held == {(key, other.pk) for key in keys}  # the group's flags went with it


def _organisation_form(**fields):
    data = {"name": "新党组织", "level": "branch", "kind": "village", "founded_on": "2026-01-01",
            "treebeard_position": "first-child", "treebeard_ref_node": ""}  # fmt: skip
    data.update({key: str(value) for key, value in fields.items()})
    return data


def test_the_admin_site_adds_organisations_by_the_trees_rules(client, personas, tree,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    client.force_login(personas["superuser"])
    url = reverse("admin:branches_organisation_add")
    count = Organisation.objects.count()
    for data, message in [
        (_organisation_form(level="group"), "党小组必须设在上级党组织之下"),
        (_organisation_form(level="group", treebeard_ref_node=tree.township.pk), "党委下不能设立党小组"),
        (_organisation_form(level="branch", treebeard_ref_node=tree.a1.pk), "党支部下不能设立党支部"),
        (_organisation_form(name="甲村党支部", treebeard_ref_node=tree.township.pk), "同一上级下已有名为“甲村党支部”"),
        # "After" 甲村党支部: a sibling, under 甲镇党委, where that name is taken
        (_organisation_form(name="甲社区党委", treebeard_position="right", treebeard_ref_node=tree.a2.pk),
         "同一上级下已有名为“甲社区党委”"),
    ]:  # fmt: skip
        response = client.post(url, data)
        assert response.status_code == 200 and message in response.content.decode(), message
    assert Organisation.objects.count() == count  # nothing saved
    response = client.post(
        url, _organisation_form(level="group", name="第三党小组", treebeard_ref_node=tree.a2.pk)
    )
    assert response.status_code == 200 and "支组合一" in response.content.decode()  # 甲村 has no 党小组
    Organisation.objects.filter(pk=tree.a2.pk).update(merged_group=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, _organisation_form(level="group", name="第三党小组", treebeard_ref_node=tree.a2.pk)
        )
    assert response.status_code == 302
    group = Organisation.objects.get(name="第三党小组")
    assert Organisation.objects.get_parent(group) == tree.a2


def test_the_admin_site_moves_nothing_by_its_change_form_and_keeps_levels_consistent(client, personas, tree):
    client.force_login(personas["superuser"])
    url = reverse("admin:branches_organisation_change", args=[tree.g1.pk])
    data = _organisation_form(name=tree.g1.name, level="group", kind=tree.g1.kind, founded_on=tree.g1.founded_on,
                              treebeard_ref_node=tree.a2.pk)  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 200 and "移动党组织请在列表中拖动" in response.content.decode()
    assert Organisation.objects.get_parent(Organisation.objects.get(pk=tree.g1.pk)) == tree.a1
    a1 = _organisation_form(name=tree.a1.name, level="party_committee", kind=tree.a1.kind,
                            founded_on=tree.a1.founded_on, treebeard_ref_node=tree.community.pk)  # fmt: skip
    response = client.post(reverse("admin:branches_organisation_change", args=[tree.a1.pk]), a1)
    assert (
        response.status_code == 200 and "其下有党小组“第一党小组”，不能改为党委" in response.content.decode()
    )
    assert Organisation.objects.get(pk=tree.a1.pk).level == "branch"
    renamed = client.post(reverse("admin:branches_organisation_change", args=[tree.a1.pk]),
                          {**a1, "level": "branch", "name": "甲社区第一党支部（更名）"})  # fmt: skip
    assert renamed.status_code == 302
    assert Organisation.objects.get(pk=tree.a1.pk).name == "甲社区第一党支部（更名）"


def test_the_admin_site_edits_a_group_of_a_dissolved_branch(client, personas, tree):
    from branches.services import dissolve_organisation

    dissolve_organisation(organisation=tree.a1, dissolved_on=timezone.localdate(), reason="撤并")
    g1 = Organisation.objects.get(pk=tree.g1.pk)
    client.force_login(personas["superuser"])
    data = _organisation_form(name=g1.name, level="group", kind=g1.kind, founded_on=date(2015, 3, 1),
                              dissolved_on=g1.dissolved_on, dissolve_reason=g1.dissolve_reason,
                              treebeard_ref_node=tree.a1.pk)  # fmt: skip
    response = client.post(reverse("admin:branches_organisation_change", args=[g1.pk]), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Organisation.objects.get(pk=g1.pk).founded_on == date(2015, 3, 1)


def test_the_admin_site_does_not_dissolve_organisations(client, personas, tree):
    client.force_login(personas["superuser"])
    data = _organisation_form(name=tree.a1.name, level="branch", kind=tree.a1.kind, founded_on=tree.a1.founded_on,
                              dissolved_on="2026-06-30", dissolve_reason="撤并", treebeard_ref_node=tree.community.pk)  # fmt: skip
    response = client.post(reverse("admin:branches_organisation_change", args=[tree.a1.pk]), data)
    assert response.status_code == 302
    a1, g1 = Organisation.objects.get(pk=tree.a1.pk), Organisation.objects.get(pk=tree.g1.pk)
    assert a1.dissolved_on is None and g1.dissolved_on is None  # 撤销 is the application's, groups and all
