"""The dashboard's HTML: the login form and the page of hosts, PFs and VFs. Everything shown
is escaped here; the page carries its own CSS and script (nothing is downloaded)."""

from __future__ import annotations

from html import escape

from sriovstack.compute import CloudView, SriovHost, VfView

__all__ = ["login_page", "cloud_page", "REFRESH_SECONDS"]

REFRESH_SECONDS = 15

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
th{background:#eef}
.sick{background:#fdd}.held{background:#efe}
header{display:flex;gap:1em;align-items:center}
.err{color:#a00}
"""

# Filters rows as you type; reloads every REFRESH_SECONDS unless you are typing, keeping the
# search in the URL's fragment so a reload keeps it.
_SCRIPT = """
const box = document.getElementById('search');
function apply() {
  const q = box.value.trim().toLowerCase();
  for (const row of document.querySelectorAll('tr.vf')) {
    row.hidden = q !== '' && !row.textContent.toLowerCase().includes(q);
  }
  history.replaceState(null, '', q ? '#q=' + encodeURIComponent(q) : '#');
}
box.value = decodeURIComponent((location.hash.match(/^#q=(.*)$/) || [, ''])[1]);
box.addEventListener('input', apply);
apply();
setInterval(() => { if (document.activeElement !== box) location.reload(); }, %d);
""" % (REFRESH_SECONDS * 1000)


def _doc(title: str, body: str, script: str = "") -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}"
            f"</title><style>{_STYLE}</style></head><body>{body}"
            + (f"<script>{script}</script>" if script else "") + "</body></html>")


def login_page(error: str | None = None) -> str:
    """The login form (Keystone user, password and project)."""
    message = f"<p class=err id=error>{escape(error)}</p>" if error else ""
    return _doc("sriovstack — log in", f"""
<h1>sriovstack</h1>{message}
<form method=post action=/dashboard/login>
<p><label>User <input name=username id=username autocomplete=username required></label></p>
<p><label>Password <input name=password id=password type=password required
  autocomplete=current-password></label></p>
<p><label>Project <input name=project id=project required></label></p>
<p><button type=submit id=login>Log in</button></p></form>""")


def _capacity(hosts: tuple[SriovHost, ...]) -> str:
    totals: dict[str, list[int]] = {}
    for host in hosts:
        for u in host.physnets:
            t = totals.setdefault(u.physnet, [0, 0, 0, 0])
            for i, n in enumerate((u.total, u.free, u.used, u.unhealthy)):
                t[i] += n
    rows = "".join(f"<tr><td>{escape(p)}</td><td>{t}</td><td>{f}</td><td>{u}</td><td>{s}</td>"
                   f"</tr>" for p, (t, f, u, s) in sorted(totals.items()))
    return ("<h2>Capacity per physnet</h2><table id=capacity><tr><th>Physnet</th><th>VFs</th>"
            f"<th>Free</th><th>Used</th><th>Unhealthy</th></tr>{rows}</table>")


def _hosts(hosts: tuple[SriovHost, ...]) -> str:
    rows = "".join(
        f"<tr><td>{escape(h.info.name)}</td><td>{'up' if h.info.up else 'DOWN'}</td>"
        f"<td>{'enabled' if h.info.enabled else escape(h.info.disabled_reason or 'disabled')}"
        f"</td></tr>" for h in hosts)
    return ("<h2>Hosts</h2><table id=hosts><tr><th>Host</th><th>State</th><th>Scheduling</th>"
            f"</tr>{rows}</table>")


def _cell(value: object) -> str:
    return "<td>" + escape("-" if value is None or value == "" else str(value)) + "</td>"


def _vf_row(v: VfView) -> str:
    d = v.device
    held = d.server_id is not None
    link = ("down: PF without carrier" if d.unhealthy_reason else
            "-" if d.admin_state_up is None else "disable" if not d.admin_state_up else
            "auto" if d.propagate_uplink_status else "enable")
    css = "vf sick" if d.unhealthy_reason else "vf held" if held else "vf"
    cells = (v.host, d.parent_addr, d.address, d.physnet, d.status,
             d.server_name or d.server_id, d.port_id, v.project_id, d.mac, d.vlan, link,
             "on" if held else None, d.unhealthy_reason or "ok")
    return f"<tr class='{css}' data-vf='{escape(str(d.address))}'>" + "".join(
        _cell(c) for c in cells) + "</tr>"


def cloud_page(view: CloudView, user: str, project: str | None, admin: bool) -> str:
    """Hosts → PFs → VFs (admin), or the caller's own VFs (member)."""
    head = ("<tr><th>Host</th><th>PF</th><th>VF</th><th>Physnet</th><th>State</th>"
            "<th>Server</th><th>Port</th><th>Project</th><th>MAC</th><th>VLAN</th>"
            "<th>Link</th><th>Spoof check</th><th>Health</th></tr>")
    vfs = "".join(_vf_row(v) for v in view.vfs)
    scope = "all hosts" if admin else "your project's VFs"
    body = (f"<header><h1>sriovstack</h1><span id=who>{escape(user)} "
            f"({escape(project or 'no project')}; {scope})</span>"
            "<form method=post action=/dashboard/logout><button id=logout>Log out</button>"
            "</form></header>"
            + (_capacity(view.hosts) + _hosts(view.hosts) if admin else "")
            + "<h2>VFs</h2><p><input id=search type=search placeholder='search: MAC, server, "
              f"VLAN, host...' size=40> refreshes every {REFRESH_SECONDS} s</p>"
            + f"<table id=vfs>{head}{vfs}</table>")
    return _doc("sriovstack — VFs", body, _SCRIPT)
