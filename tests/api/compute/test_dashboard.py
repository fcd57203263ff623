"""/dashboard in process: log in with a Keystone user and password (session cookie), the page
of hosts and VFs with owner, MAC and VLAN, a member's page limited to its project's VFs, and
log out (the token is revoked)."""

from __future__ import annotations

from typing import Any

from tests.api.compute.chapter import boot_body, register_host
from tests.api.compute.test_metrics_api import member_port
from tests.conftest import ADMIN_PASSWORD, DEMO_PASSWORD


def login(api: Any, user: str, password: str, project: str) -> Any:
    return api.client.post("/dashboard/login", data={"username": user, "password": password,
                                                     "project": project},
                           follow_redirects=False)


def boot(api: Any, headers: dict[str, str], name: str, segment: int) -> dict[str, Any]:
    port = member_port(api, headers, segment)
    r = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"], name),
                        headers=headers)
    assert r.status_code == 202, r.text
    return port


def test_admin_logs_in_sees_every_vf_with_owner_mac_and_vlan_and_logs_out(api: Any) -> None:
    register_host(api)
    port = boot(api, api.admin, "web-admin", 15)
    assert "name=password" in api.client.get("/dashboard").text  # the login form
    r = login(api, "admin", ADMIN_PASSWORD, "admin")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    page = api.client.get("/dashboard").text
    assert page.count("<tr class='vf") == 14
    row = next(line for line in page.split("<tr") if port["mac_address"] in line)
    assert "web-admin" in row and "<td>15</td>" in row and api.admin_project_id in row
    assert "<td>enable</td>" in row
    r = api.client.put(f"/network/v2.0/ports/{port['id']}", headers=api.admin,
                       json={"port": {"propagate_uplink_status": True}})
    assert r.status_code == 200, r.text
    row = next(line for line in api.client.get("/dashboard").text.split("<tr")
               if port["mac_address"] in line)
    assert "<td>auto</td>" in row  # the VF's link follows its PF
    assert "id=capacity" in page and "<td>physnet1</td><td>14</td><td>13</td>" in page

    assert api.client.post("/dashboard/logout", follow_redirects=False).status_code == 303
    assert "name=password" in api.client.get("/dashboard").text


def test_a_member_sees_only_its_own_servers_vfs(api: Any) -> None:
    register_host(api)
    mine = boot(api, api.demo, "web-demo", 15)
    theirs = boot(api, api.admin, "web-admin", 16)
    assert login(api, "demo", DEMO_PASSWORD, "demo").status_code == 303
    page = api.client.get("/dashboard").text
    assert mine["mac_address"] in page and "web-demo" in page
    assert theirs["mac_address"] not in page and "web-admin" not in page
    assert page.count("<tr class='vf") == 1 and "id=capacity" not in page


def test_a_wrong_password_is_a_401_with_the_form_again(api: Any) -> None:
    r = login(api, "admin", "wrong", "admin")
    assert r.status_code == 401 and "wrong user, password or project" in r.text
    r = login(api, "admin", ADMIN_PASSWORD, "")
    assert r.status_code == 401 and "fill in project" in r.text
    assert "set-cookie" not in r.headers


def test_a_revoked_session_cookie_gets_the_login_form(api: Any) -> None:
    login(api, "admin", ADMIN_PASSWORD, "admin")
    secret = api.client.cookies.get("sriovstack_session")
    r = api.client.delete("/identity/v3/auth/tokens",
                          headers={**api.admin, "X-Subject-Token": secret})
    assert r.status_code == 204, r.text
    assert "name=password" in api.client.get("/dashboard").text
