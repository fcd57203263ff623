"""Kernel command line parsing and the IOMMU judgement, with the chapter's lines (§20.2 4d)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovstack.host.cmdline import ModuleOption, judge_iommu, parse_cmdline

# The linux16 line of the chapter's custom menu entry (20.2 step 4d ii c), as /proc/cmdline.
CHAPTER_LINE = ("BOOT_IMAGE=/vmlinuz-3.10.0-123.el7.x86_64 root=UUID=4718717c-73ad-4f5f-800f-"
                "f415adfccd01 ro vconsole.font=latarcyrheb-sun16 biosdevname=0 crashkernel=auto  "
                "vconsole.keymap=us nofb console=ttyS0,115200 LANG=en_US.UTF-8 intel_iommu=pt "
                "igb.max_vfs=7")


def test_parse_keeps_order_flags_and_offsets() -> None:
    line = parse_cmdline("ro  quiet intel_iommu=on\n")
    assert [(p.name, p.value, p.offset) for p in line.params] == [
        ("ro", None, 0), ("quiet", None, 4), ("intel_iommu", "on", 10)]


def test_parse_quotes_group_spaces_and_are_removed() -> None:
    line = parse_cmdline('dyndbg="file iov.c +p" "acpi_osi=Linux" x=1')
    assert line.value("dyndbg") == "file iov.c +p"
    assert line.value("acpi_osi") == "Linux"
    assert line.value("x") == "1"


def test_double_dash_ends_kernel_parameters() -> None:
    line = parse_cmdline("intel_iommu=on -- single iommu=off")
    assert line.has("intel_iommu") and not line.has("iommu")
    assert line.init_args == ("single", "iommu=off")


def test_dashes_and_underscores_name_the_same_parameter() -> None:
    line = parse_cmdline("vfio-iommu-type1.allow-unsafe-interrupts=1")
    assert line.value("vfio_iommu_type1.allow_unsafe_interrupts") == "1"
    assert judge_iommu(line).unsafe_interrupts


def test_later_values_win() -> None:
    assert parse_cmdline("iommu=off iommu=pt").value("iommu") == "pt"


def test_chapter_line_intel_iommu_pt_is_caught() -> None:
    settings = judge_iommu(parse_cmdline(CHAPTER_LINE))
    assert not settings.intel_on
    assert settings.max_vfs() == (ModuleOption("igb", "max_vfs", "7"),)
    (problem,) = settings.problems
    assert problem.fatal and problem.code == "invalid_value"
    assert "intel_iommu=pt is not a valid value" in problem.message
    assert "iommu=pt" in problem.message
    assert 'grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt"' in problem.fix


def test_glued_ptigb_names_the_missing_space() -> None:
    settings = judge_iommu(parse_cmdline("ro intel_iommu=ptigb.max_vfs=7 quiet"))
    glued, invalid = settings.problems
    assert glued.code == "glued" and glued.fatal
    assert "'intel_iommu=pt' and 'igb.max_vfs=7'" in glued.message
    assert "after character 17" in glued.message
    assert glued.fix == "write them apart: 'intel_iommu=pt igb.max_vfs=7'"
    # The part before the missing space is the other slip, reported too.
    assert invalid.param == "intel_iommu=pt"
    # The kernel sees neither option.
    assert settings.max_vfs() == () and not settings.intel_on


def test_glued_plain_parameter_inside_iommu_value() -> None:
    (glued,) = judge_iommu(parse_cmdline("intel_iommu=oniommu=pt")).problems
    assert "'intel_iommu=on' and 'iommu=pt'" in glued.message


@pytest.mark.parametrize("line", [
    "intel_iommu=on iommu=pt",
    "intel_iommu=on",
    "intel_iommu=on,igfx_off iommu=pt",
    "intel_iommu=sm_on",
    "root=UUID=abc rd.lvm.lv=rhel/root console=ttyS0,115200n8",
    "",
])
def test_good_lines_have_no_problems(line: str) -> None:
    assert judge_iommu(parse_cmdline(line)).problems == ()


@pytest.mark.parametrize(("line", "param", "fatal"), [
    ("intel_iommu=pt", "intel_iommu=pt", True),
    ("intel_iommu=yes", "intel_iommu=yes", True),
    ("intel_iommu", "intel_iommu", True),
    ("amd_iommu=on", "amd_iommu=on", False),
    ("iommu=passthrough", "iommu=passthrough", False),
    ("intremap=maybe", "intremap=maybe", False),
])
def test_invalid_values(line: str, param: str, fatal: bool) -> None:
    (problem,) = judge_iommu(parse_cmdline(line)).problems
    assert (problem.param, problem.fatal) == (param, fatal)


def test_amd_iommu_on_explains_the_default() -> None:
    (problem,) = judge_iommu(parse_cmdline("amd_iommu=on")).problems
    assert "on by default" in problem.message and "IVRS" in problem.message


@pytest.mark.parametrize(("line", "field", "expected"), [
    ("intel_iommu=on", "intel_on", True),
    ("intel_iommu=off", "intel_off", True),
    ("iommu=pt", "iommu_pt", True),
    ("iommu.passthrough=1", "iommu_pt", True),
    ("iommu=off", "iommu_off", True),
    ("intremap=off", "intremap_off", True),
    ("nointremap", "intremap_off", True),
    ("intremap=nosid", "intremap_off", False),
    ("vfio_iommu_type1.allow_unsafe_interrupts=1", "unsafe_interrupts", True),
    ("vfio_iommu_type1.allow_unsafe_interrupts=Y", "unsafe_interrupts", True),
    ("vfio_iommu_type1.allow_unsafe_interrupts=0", "unsafe_interrupts", False),
])
def test_settings_read_from_line(line: str, field: str, expected: bool) -> None:
    assert getattr(judge_iommu(parse_cmdline(line)), field) is expected


def test_module_vf_options() -> None:
    settings = judge_iommu(parse_cmdline("ixgbe.max_vfs=8 mlx4_core.num_vfs=4 igb.debug=1"))
    assert settings.max_vfs() == (ModuleOption("ixgbe", "max_vfs", "8"),
                                  ModuleOption("mlx4_core", "num_vfs", "4"))


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.0123456789", min_size=1, max_size=8)


@given(st.lists(st.tuples(_word, st.one_of(st.none(), _word)), max_size=8))
def test_parse_round_trips_simple_parameters(pairs: list[tuple[str, str | None]]) -> None:
    text = " ".join(n if v is None else f"{n}={v}" for n, v in pairs)
    parsed = parse_cmdline(text)
    assert [(p.name, p.value) for p in parsed.params] == pairs
    assert " ".join(str(p) for p in parsed.params) == text
