"""Where a newcomer lands: the root URL, the admin's "View site" link and the favicon."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("plain_static_files")


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_root_url_leads_to_the_panel(staff):
    response = staff.get("/", follow=True)
    assert response.redirect_chain[0][0] == reverse("panel-dashboard")
    assert response.status_code == 200
    assert b"<h1>Dashboard</h1>" in response.content


def test_the_root_url_sends_a_stranger_to_the_panels_sign_in(client, db):
    response = client.get("/", follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("panel-login")


def test_the_admins_view_site_link_leads_to_the_panel(staff):
    page = staff.get(reverse("admin:index")).content.decode()
    href = re.search(r'<a href="([^"]+)">View site</a>', page).group(1)
    response = staff.get(href, follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("panel-dashboard")


def test_favicon_ico_is_the_panels_static_favicon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302)
    assert response["Location"] == static("panel/favicon.ico")
    icon = finders.find("panel/favicon.ico")
    assert icon, "static/panel/favicon.ico is missing"
    with open(icon, "rb") as file:
        assert file.read(4) == b"\x00\x00\x01\x00", "not an ICO file"


@pytest.mark.parametrize("name", ["panel-dashboard", "panel-runs", "panel-login"])
def test_every_panel_page_links_the_favicon(staff, name):
    page = staff.get(reverse(name)).content.decode()
    assert f'<link rel="icon" href="{static("panel/favicon.ico")}"' in page
