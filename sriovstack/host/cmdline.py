"""The kernel command line: parsing /proc/cmdline text and judging its IOMMU and SR-IOV settings.

Pure: it reads nothing itself.  The rules come from the kernel's parameter parser (quotes,
``--``, dashes equal underscores in names) and from the IOMMU options it accepts
(reference/linux_host.md §3.1).  It catches the chapter's two slips (§20.2 step 4d):
``intel_iommu=pt`` (not a valid value: it is ``intel_iommu=on iommu=pt``) and
``intel_iommu=ptigb.max_vfs=7`` (a missing space before ``igb.max_vfs=7``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "KernelParam",
    "KernelCmdline",
    "Problem",
    "ModuleOption",
    "IommuSettings",
    "parse_cmdline",
    "judge_iommu",
    "GRUBBY_INTEL",
]

GRUBBY_INTEL = 'grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt"'

# drivers/iommu/intel/iommu.c intel_iommu_setup(): comma-separated; strict/forcedac deprecated.
_INTEL_VALUES = frozenset({"on", "off", "igfx_off", "sm_on", "sm_off", "sp_off",
                           "tboot_noforce", "strict", "forcedac"})
# drivers/iommu/amd/init.c parse_amd_iommu_options(): "on" is not one of them.
_AMD_VALUES = frozenset({"off", "force_isolation", "force_enable", "pgtbl_v1", "pgtbl_v2",
                         "irtcachedis", "fullflush", "v2_pgsizes_only", "nohugepages"})
# arch/x86/kernel/pci-dma.c iommu_setup() and the generic iommu.passthrough words.
_IOMMU_VALUES = frozenset({"off", "force", "noforce", "pt", "nopt", "soft", "merge", "nomerge",
                           "panic", "nopanic", "forcesac", "allowdac", "nodac", "usedac",
                           "biomerge"})
_INTREMAP_VALUES = frozenset({"on", "off", "nosid", "no_x2apic_optout", "nopost"})
_ALL_WORDS = _INTEL_VALUES | _AMD_VALUES | _IOMMU_VALUES | _INTREMAP_VALUES
# Drivers whose names are worth recognising when we must guess where a space went missing.
_KNOWN_MODULES = ("igb", "ixgbe", "mlx4_core", "vfio_iommu_type1", "vfio_pci", "vfio-pci",
                  "i40e", "ice", "bnxt_en", "iommufd", "kvm")
_GLUED = re.compile(r"[A-Za-z_][\w-]*\.[\w-]+=")
# IOMMU option values never hold '=', so any 'name=' inside one is a glued parameter.
_GLUED_ANY = re.compile(r"[A-Za-z_][\w.-]*=")
_IOMMU_KEYS = frozenset({"intel_iommu", "amd_iommu", "iommu", "intremap"})
_TRUE = frozenset({"1", "y", "yes", "on", "true"})


@dataclass(frozen=True, slots=True)
class KernelParam:
    """One parameter as written: ``name`` (``None`` value for a bare flag) at ``offset``."""

    name: str
    value: str | None
    offset: int

    @property
    def key(self) -> str:
        """The name as the kernel compares it: dashes and underscores are the same."""
        return self.name.replace("-", "_")

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value}"


@dataclass(frozen=True, slots=True)
class KernelCmdline:
    """A parsed command line: kernel parameters, then the arguments after ``--`` (for init)."""

    text: str
    params: tuple[KernelParam, ...]
    init_args: tuple[str, ...] = ()

    def all(self, name: str) -> tuple[KernelParam, ...]:
        """Every occurrence of parameter ``name`` (dash/underscore-insensitive), in order."""
        key = name.replace("-", "_")
        return tuple(p for p in self.params if p.key == key)

    def has(self, name: str) -> bool:
        return bool(self.all(name))

    def value(self, name: str) -> str | None:
        """The last value given for ``name`` (later ones win), or None when absent or bare."""
        found = self.all(name)
        return found[-1].value if found else None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong on the command line: ``fatal`` ones stop device assignment.

    ``code`` is stable: ``glued`` (missing space), ``invalid_value``.
    """

    code: str
    param: str
    message: str
    fix: str
    fatal: bool


@dataclass(frozen=True, slots=True)
class ModuleOption:
    """A ``<module>.<option>=<value>`` parameter, e.g. ``igb.max_vfs=7``."""

    module: str
    option: str
    value: str


@dataclass(frozen=True, slots=True)
class IommuSettings:
    """What the command line asks of the IOMMU, interrupt remapping and SR-IOV drivers.

    ``intel_iommu`` is the effective word list (None when not given); ``problems`` lists the
    slips found, in command-line order.
    """

    intel_iommu: tuple[str, ...] | None
    amd_iommu: tuple[str, ...] | None
    iommu_pt: bool
    iommu_off: bool
    intremap_off: bool
    unsafe_interrupts: bool
    module_options: tuple[ModuleOption, ...]
    problems: tuple[Problem, ...]

    @property
    def intel_on(self) -> bool:
        return self.intel_iommu is not None and "on" in self.intel_iommu

    @property
    def intel_off(self) -> bool:
        return self.intel_iommu is not None and "off" in self.intel_iommu

    def max_vfs(self) -> tuple[ModuleOption, ...]:
        """The ``<driver>.max_vfs`` / ``num_vfs`` options given at boot."""
        return tuple(o for o in self.module_options if o.option in ("max_vfs", "num_vfs"))


def _tokens(text: str) -> list[tuple[str, int]]:
    """Split like the kernel's next_arg(): white space separates, double quotes group."""
    out: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, quoted = i, False
        while i < n and (quoted or not text[i].isspace()):
            if text[i] == '"':
                quoted = not quoted
            i += 1
        out.append((text[start:i], start))
    return out


def parse_cmdline(text: str) -> KernelCmdline:
    """Parse /proc/cmdline text into parameters; quotes are removed as the kernel does."""
    params: list[KernelParam] = []
    tokens = _tokens(text)
    for index, (token, offset) in enumerate(tokens):
        if token == "--":
            rest = tuple(t for t, _ in tokens[index + 1:])
            return KernelCmdline(text, tuple(params), rest)
        name, eq, value = token.partition("=")
        name = name.replace('"', "")
        params.append(KernelParam(name, value.replace('"', "") if eq else None, offset))
    return KernelCmdline(text, tuple(params))


def _split_glued(value: str, pattern: re.Pattern[str]) -> int | None:
    """Where a glued ``name=`` starts inside ``value`` (the missing space), or None."""
    match = pattern.search(value)
    if match is None:
        return None
    for cut in range(1, len(value)):
        if value[:cut] in _ALL_WORDS and pattern.match(value, cut):
            return cut
    for cut in range(1, len(value)):
        if value.startswith(_KNOWN_MODULES, cut) and pattern.match(value, cut):
            return cut
    return match.start() if match.start() > 0 else None


def _glued_problem(param: KernelParam) -> Problem | None:
    value = param.value or ""
    cut = _split_glued(value, _GLUED_ANY if param.key in _IOMMU_KEYS else _GLUED)
    if cut is None:
        return None
    head, tail = value[:cut], value[cut:]
    column = param.offset + len(param.name) + 1 + cut
    return Problem(
        code="glued",
        param=str(param),
        message=f"'{param}' glues two parameters together: a space is missing between "
                f"'{param.name}={head}' and '{tail}' (after character {column} of the command line), "
                f"so the "
                f"kernel reads '{tail}' as part of {param.name}'s value and ignores both",
        fix=f"write them apart: '{param.name}={head} {tail}'",
        fatal=param.key in _IOMMU_KEYS,
    )


def _words(param: KernelParam) -> tuple[str, ...]:
    return tuple(w for w in (param.value or "").split(",") if w)


def _intel_problems(param: KernelParam) -> list[Problem]:
    bad = [w for w in _words(param) if w not in _INTEL_VALUES]
    if not param.value:
        bad = [""]
    problems = []
    for word in bad:
        if word == "pt":
            message = ("intel_iommu=pt is not a valid value (kernels log \"Unknown option - 'pt'\" "
                       "and leave VT-d off); passthrough is the separate option iommu=pt")
        else:
            message = (f"intel_iommu value {word!r} is not one the kernel accepts "
                       f"({', '.join(sorted(_INTEL_VALUES))})")
        problems.append(Problem("invalid_value", str(param), message,
                                f"use intel_iommu=on iommu=pt: {GRUBBY_INTEL}", fatal=True))
    return problems


def _amd_problems(param: KernelParam) -> list[Problem]:
    problems = []
    for word in _words(param) or ("",):
        if word in _AMD_VALUES:
            continue
        hint = ("the AMD IOMMU is on by default when the firmware has an IVRS table; "
                "amd_iommu=on is not an option" if word == "on"
                else f"accepted: {', '.join(sorted(_AMD_VALUES))}")
        problems.append(Problem("invalid_value", str(param),
                                f"amd_iommu value {word!r} is not valid: {hint}",
                                "remove it (grubby --update-kernel=ALL --remove-args=amd_iommu)",
                                fatal=False))
    return problems


def _word_problems(param: KernelParam, allowed: frozenset[str]) -> list[Problem]:
    bad = [w for w in _words(param) or ("",) if w not in allowed]
    return [Problem("invalid_value", str(param), f"{param.name} value {w!r} is not valid "
                    f"(accepted: {', '.join(sorted(allowed))})",
                    f"remove or correct it (grubby --update-kernel=ALL --remove-args={param.name})",
                    fatal=False) for w in bad]


def _problems_of(param: KernelParam) -> list[Problem]:
    glued = _glued_problem(param) if param.value else None
    if glued is not None:
        # Judge the part before the missing space too: the chapter's line has both slips.
        value = param.value or ""
        cut = _split_glued(value, _GLUED_ANY if param.key in _IOMMU_KEYS else _GLUED) or 0
        return [glued, *_value_problems(KernelParam(param.name, value[:cut], param.offset))]
    return _value_problems(param)


def _value_problems(param: KernelParam) -> list[Problem]:
    if param.key == "intel_iommu":
        return _intel_problems(param)
    if param.key == "amd_iommu":
        return _amd_problems(param)
    if param.key == "iommu":
        return _word_problems(param, _IOMMU_VALUES)
    if param.key == "intremap":
        return _word_problems(param, _INTREMAP_VALUES)
    return []


def _last_words(cmdline: KernelCmdline, name: str) -> tuple[str, ...] | None:
    found = cmdline.all(name)
    if not found:
        return None
    words: list[str] = []
    for param in found:  # intel_iommu/amd_iommu handlers accumulate over repeats
        words.extend(_words(param))
    return tuple(words)


def _module_options(cmdline: KernelCmdline) -> tuple[ModuleOption, ...]:
    out = []
    for param in cmdline.params:
        module, dot, option = param.key.partition(".")
        if dot and module and option and param.value is not None:
            out.append(ModuleOption(module, option, param.value))
    return tuple(out)


def judge_iommu(cmdline: KernelCmdline) -> IommuSettings:
    """Read the IOMMU, interrupt-remapping and VF options of ``cmdline`` and list its slips."""
    problems: list[Problem] = []
    for param in cmdline.params:
        problems.extend(_problems_of(param))
    glued = {p.param for p in problems if p.code == "glued"}
    intel = _last_words(cmdline, "intel_iommu")
    iommu_words = _last_words(cmdline, "iommu") or ()
    options = _module_options(cmdline)
    unsafe = any(o.module == "vfio_iommu_type1" and o.option == "allow_unsafe_interrupts"
                 and o.value.lower() in _TRUE for o in options)
    return IommuSettings(
        intel_iommu=intel if not any(str(p) in glued for p in cmdline.all("intel_iommu"))
        else (),
        amd_iommu=_last_words(cmdline, "amd_iommu"),
        iommu_pt="pt" in iommu_words or cmdline.value("iommu.passthrough") == "1",
        iommu_off="off" in iommu_words,
        intremap_off="off" in (_last_words(cmdline, "intremap") or ()) or cmdline.has("nointremap"),
        unsafe_interrupts=unsafe,
        module_options=options,
        problems=tuple(problems),
    )
