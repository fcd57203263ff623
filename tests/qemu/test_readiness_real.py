"""The chapter's 20.2 on a real kernel.  Booted without ``intel_iommu=on``, Debian's 6.1 kernel
still turns the Intel IOMMU on (it is built with CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF: on
by default except for integrated graphics), so `host check` passes the IOMMU and warns that
the command line does not say so, with the fix; the session guest, booted with it, passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriovstack.qemu import Guest, GuestSpec, Image, boot, stop

pytestmark = pytest.mark.qemu

REPORT = ("import json\nfrom sriovstack.host import check_host, open_real_host\n"
          "print(json.dumps({i.name: [i.verdict.name, i.fix or ''] for i in "
          "check_host(open_real_host()).items}))")


def report_of(guest: Guest) -> dict[str, list[str]]:
    result = guest.run(["python", "-c", REPORT], timeout=300)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def no_iommu_guest(qemu_image: Image, qemu_run_dir: Path) -> Iterator[Guest]:
    guest = boot(qemu_image, GuestSpec("qtest-noiommu", igb_ports=1, iommu=False),
                 qemu_run_dir)
    yield guest
    stop(qemu_run_dir, guest)


def test_a_guest_without_intel_iommu_on_is_warned_with_the_fix(
        no_iommu_guest: Guest) -> None:
    report = report_of(no_iommu_guest)
    assert report["IOMMU active"][0] == "PASS"   # the kernel's default, not the command line
    verdict, fix = report["kernel command line"]
    assert verdict == "WARN" and "intel_iommu=on" in fix


def test_the_session_guest_passes_the_iommu_and_remapping_checks(qemu_guest: Guest) -> None:
    report = report_of(qemu_guest)
    assert report["IOMMU active"][0] == "PASS"
    assert report["interrupt remapping"][0] == "PASS"
    assert report["kernel command line"][0] == "PASS"
