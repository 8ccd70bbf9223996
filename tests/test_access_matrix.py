"""Every URL × every role × in scope / out of scope / anonymous.

Adding a URL without adding it to ROUTES makes test_every_url_is_covered fail.
"""

from dataclasses import dataclass
from datetime import date

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from branches import services
from branches.models import Organisation, Role
from tests.conftest import PERSONA_HOMES

ROLES = [*Role, "superuser"]


@dataclass(frozen=True)
class Route:
    """How to reach a URL and what each role should get.

    target: None for URLs without an object; "org" or "term" for scoped objects.
    in_scope: expected status per role when the object is inside the role's scope.
    """

    target: str | None
    in_scope: dict
    write: bool = False


EVERYONE_OK = dict.fromkeys(ROLES, 200)
VIEW = {
    Role.TOWNSHIP_ADMIN: 200,
    Role.TOWNSHIP_LEADER: 200,
    Role.INSTRUCTOR: 200,
    Role.SECRETARY: 200,
    Role.COMMITTEE_MEMBER: 200,
    Role.GROUP_LEADER: 200,
    Role.MEMBER: 404,
    "superuser": 200,
}
MANAGE = {
    Role.TOWNSHIP_ADMIN: 200,
    Role.TOWNSHIP_LEADER: 403,
    Role.INSTRUCTOR: 403,
    Role.SECRETARY: 403,
    Role.COMMITTEE_MEMBER: 403,
    Role.GROUP_LEADER: 403,
    Role.MEMBER: 404,
    "superuser": 200,
}
# Terms belong to the branch, which a group leader (scoped to one 党小组) cannot see.
MANAGE_TERM = {**MANAGE, Role.GROUP_LEADER: 404}
HOME = {
    **dict.fromkeys(ROLES, 302),
    Role.MEMBER: 200,
}

ROUTES = {
    "home": Route(None, HOME),
    "login": Route(None, dict.fromkeys(ROLES, 302)),  # a logged-in user is sent on
    "logout": Route(None, dict.fromkeys(ROLES, 405)),  # POST only
    "password_change": Route(None, EVERYONE_OK),
    "password_change_done": Route(None, EVERYONE_OK),
    "branches:tree": Route(None, EVERYONE_OK),
    "branches:detail": Route("org", VIEW),
    "branches:create": Route("org", MANAGE, write=True),
    "branches:edit": Route("org", MANAGE, write=True),
    "branches:move": Route("org", MANAGE, write=True),
    "branches:dissolve": Route("org", MANAGE, write=True),
    "branches:term_create": Route("org", MANAGE, write=True),
    "branches:term_edit": Route("term", MANAGE_TERM, write=True),
}
PUBLIC = {"login"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _walk(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix}{entry.name}"


def test_every_url_is_covered():
    names = {name for name in _walk(get_resolver().url_patterns) if not name.startswith("admin:")}
    assert names - ROUTES.keys() == set(), "add the new URLs to ROUTES in this test"
    assert ROUTES.keys() - names == set()


@pytest.fixture
def world(personas, tree):
    for org in (tree.a1, tree.b1):
        services.record_term(
            organisation=org, elected_on=date(2024, 1, 5), positions=[("secretary", "赵书记")]
        )
    return personas, tree


def _target(route, role, tree, *, in_scope):
    if in_scope:
        home = PERSONA_HOMES.get(role, "a1")
        org = getattr(tree, "a1" if home == "township" else home)
        if route.target == "term":
            org = tree.a1
    else:
        org = tree.b1
    if route.target == "term":
        return {"pk": org.terms.get().pk}
    return {"pk": org.pk}


def _url(name, route, role, tree, *, in_scope):
    if route.target is None:
        return reverse(name)
    return reverse(name, kwargs=_target(route, role, tree, in_scope=in_scope))


CASES = [(name, role) for name in ROUTES for role in ROLES]


@pytest.mark.parametrize(("name", "role"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_in_scope(world, client, name, role):
    personas, tree = world
    route = ROUTES[name]
    client.force_login(personas[role])
    response = client.get(_url(name, route, role, tree, in_scope=True))
    assert response.status_code == route.in_scope[role], response.content[:300]


OUT_CASES = [(name, role) for name, route in ROUTES.items() if route.target for role in ROLES]


@pytest.mark.parametrize(("name", "role"), OUT_CASES, ids=[f"{n}-{r}" for n, r in OUT_CASES])
def test_out_of_scope_is_404(world, client, name, role):
    personas, tree = world
    route = ROUTES[name]
    client.force_login(personas[role])
    url = _url(name, route, role, tree, in_scope=False)
    expected = 200 if role == "superuser" else 404
    assert client.get(url).status_code == expected
    if route.write and role != "superuser":
        before = Organisation.objects.filter(pk=tree.b1.pk).values().get()
        assert (
            client.post(url, {"name": "改名", "reason": "x", "dissolved_on": "2025-01-01"}).status_code == 404
        )
        assert Organisation.objects.filter(pk=tree.b1.pk).values().get() == before


@pytest.mark.parametrize("name", [n for n in ROUTES if n not in PUBLIC])
def test_anonymous_is_sent_to_login(world, client, name):
    _personas, tree = world
    route = ROUTES[name]
    url = _url(name, route, Role.SECRETARY, tree, in_scope=True)
    response = client.post(url) if name == "logout" else client.get(url)
    if name == "logout":
        assert response.status_code == 302
        return
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", [n for n, r in ROUTES.items() if r.write])
def test_write_views_reject_posts_without_csrf_token(world, name):
    personas, tree = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = _url(name, ROUTES[name], Role.TOWNSHIP_ADMIN, tree, in_scope=True)
    assert client.post(url, {"name": "新名称"}).status_code == 403
    tree.a1.refresh_from_db()
    assert tree.a1.name == "甲社区第一党支部"


def test_admin_is_for_staff_only(world, client):
    personas, _tree = world
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    client.force_login(personas["superuser"])
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:branches_organisation_changelist")).status_code == 200
