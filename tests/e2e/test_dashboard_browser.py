"""/dashboard in a real headless Chromium (Debian's chromium + chromium-driver, Selenium): log
in, see the VF of a server booted in the test with its MAC and VLAN, search for it, log out;
a member does not see another project's VFs. Saves the screenshot docs/images/dashboard.png
when SRIOVSTACK_SCREENSHOT is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sriovstack.allinone import AllInOne, AllInOneOptions
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.clouds import write_clouds_yaml
from sriovstack.cli.main import main

pytestmark = pytest.mark.e2e

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs "
                "them)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AllInOne]:
    state = tmp_path_factory.mktemp("aio")
    with AllInOne(AllInOneOptions(state_dir=state, port=0)) as running:
        write_clouds_yaml(state / "clouds.yaml", clouds_of(running))
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1800,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def cli(cloud: AllInOne, project: str, *argv: str) -> None:
    env = {"OS_CLIENT_CONFIG_FILE": str(cloud.options.state_dir / "clouds.yaml"),
           "OS_CLOUD": "sriovstack" if project == "admin" else "sriovstack-demo"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert main(list(argv)) == 0, argv
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def log_in(driver: Any, cloud: AllInOne, user: str, password: str) -> None:
    driver.get(f"{cloud.base_url}/dashboard")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "project").send_keys(user)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "vfs"))


def visible_rows(driver: Any) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "tr.vf") if r.is_displayed()]


def test_log_in_see_the_booted_vf_search_log_out_and_member_isolation(
        cloud: AllInOne, browser: Any, capsys: pytest.CaptureFixture[str]) -> None:
    creds = cloud.credentials
    assert creds is not None
    cli(cloud, "admin", "network", "create", "web", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", "15", "--share")
    cli(cloud, "admin", "subnet", "create", "web-sub", "--network", "web",
        "--subnet-range", "10.0.0.0/24")
    cli(cloud, "admin", "port", "create", "sr-iov", "--network", "web", "--vnic-type", "direct")
    cli(cloud, "admin", "server", "create", "webserver01", "--flavor", "m1.tiny", "--image",
        "cirros", "--nic", "port-id=sr-iov", "--wait")
    cli(cloud, "admin", "port", "show", "sr-iov")
    mac = next(w for w in capsys.readouterr().out.split() if w.startswith("fa:16:3e:"))
    cli(cloud, "demo", "port", "create", "demo-vf", "--network", "web", "--vnic-type", "direct")
    cli(cloud, "demo", "server", "create", "demo-vm", "--flavor", "m1.tiny", "--image",
        "cirros", "--nic", "port-id=demo-vf", "--wait")
    cli(cloud, "demo", "port", "show", "demo-vf")
    demo_mac = next(w for w in capsys.readouterr().out.split() if w.startswith("fa:16:3e:"))

    log_in(browser, cloud, "admin", creds.admin_password)
    rows = visible_rows(browser)
    assert len(rows) == 14  # both hosts' VFs
    [row] = [r for r in rows if mac in r]
    assert "webserver01" in row and " 15 " in f" {row} " and "enable" in row
    assert browser.find_element(By.ID, "capacity").text.count("physnet1") == 1
    browser.find_element(By.ID, "search").send_keys(mac)
    WebDriverWait(browser, 10).until(lambda d: len(visible_rows(d)) == 1)
    assert mac in visible_rows(browser)[0]
    if os.environ.get("SRIOVSTACK_SCREENSHOT"):
        browser.save_screenshot(str(SCREENSHOT))
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "username"))

    log_in(browser, cloud, "demo", creds.demo_password)
    [own] = visible_rows(browser)
    assert demo_mac in own and "demo-vm" in own and " 15 " in f" {own} "
    assert mac not in browser.page_source and "webserver01" not in browser.page_source
    assert not browser.find_elements(By.ID, "capacity")
    browser.find_element(By.ID, "logout").click()
