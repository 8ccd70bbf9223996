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
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(url, {"node": tree.g2.pk, "target": tree.a2.pk, "relation": "child"})
    assert moved.status_code == 200
    group = Organisation.objects.get(pk=tree.g2.pk)
    assert Organisation.objects.get_parent(group) == tree.a2
    assert group.history.first().history_change_reason == "由“甲社区第一党支部”移至“甲村党支部”"
    held = set(Flag.objects.filter(group=group, resolved_on=None).values_list("key", "branch_id"))
    assert held == {(key, tree.a2.pk) for key in keys}  # the group's flags went with it
