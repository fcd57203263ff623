"""``sriovstack qemu install|image`` through sriovstack.cli.main.main."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.cli.main import main
from sriovstack.qemu import installed_qemu


def test_image_show_without_an_image_says_how_to_build_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qemu", "image", "show", "--cache-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"no guest image in {tmp_path}/image" in err
    assert "sriovstack qemu image build" in err


def test_install_dry_run_says_what_it_would_do_and_changes_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    info = installed_qemu()
    assert main(["qemu", "install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    if info is not None and info.usable:
        assert f"QEMU {info.version} is installed with igb and intel-iommu" in out
    else:
        assert "apt-get install -y -t bookworm-backports --no-install-recommends " \
               "qemu-system-x86" in out
        assert "dry run: nothing changed" in out
