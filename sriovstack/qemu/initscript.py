"""The guest's ``/init`` (appended to the image's initramfs at each boot as a second cpio
archive, so the image never holds a stale one): a busybox shell script that loads the image's modules, mounts the
host's root read-only over 9p, brings up the control NIC and runs the exec agent chrooted
into the host root (so the host's Python, tools and sriovstack venv run on the guest kernel).

It takes its parameters from the kernel command line (``sriovstack.name=``, ``.ctlmac=``,
``.python=``, ``.agent=``, ``.port=``), so one image serves every guest."""

from __future__ import annotations

import gzip
import stat

from sriovstack.qemu.cpio import CpioEntry, write_newc

__all__ = ["INIT_SCRIPT", "GUEST_ADDRESS", "AGENT_PORT", "init_archive"]

# QEMU user networking gives the guest 10.0.2.15; hostfwd reaches the agent's port there.
GUEST_ADDRESS = "10.0.2.15"
AGENT_PORT = 7000

INIT_SCRIPT = f"""#!/bin/busybox sh
# sriovstack QEMU guest init (written by `sriovstack qemu image build`).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() {{ echo "sriovstack-init: $*" > /dev/console; }}
arg() {{ for w in $(cat /proc/cmdline); do case "$w" in "$1"=*) echo "${{w#*=}}";; esac; done; }}
for m in $(cat /modules.list); do insmod "/modules/$m.ko" || say "insmod $m failed"; done
say "modules loaded"
hostname "$(arg sriovstack.name)"
mkdir -p /host
# No cache=loose: it imports faster but serves files changed on the host while the guest
# runs from a stale cache (seen: an edited module ran in its old form).
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host; then
    say "cannot mount the host root (hostroot)"; poweroff -f
fi
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run
ctl=
for n in /sys/class/net/*; do
    [ "$(cat "$n/address")" = "$(arg sriovstack.ctlmac)" ] && ctl="${{n##*/}}"
done
ip link set lo up
ip addr add {GUEST_ADDRESS}/24 dev "$ctl" && ip link set "$ctl" up || say "no control NIC"
say "starting the exec agent on $ctl"
python="$(arg sriovstack.python)"
# The venv's bin first, so `sriovstack` and its Python are found as on the host.
chroot /host /usr/bin/env -i \\
    PATH="${{python%/*}}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \\
    HOME=/tmp PYTHONDONTWRITEBYTECODE=1 "$python" "$(arg sriovstack.agent)" --port {AGENT_PORT}
say "exec agent exited ($?)"
poweroff -f
"""


def init_archive() -> bytes:
    """The gzip'd newc archive holding ``/init``; the kernel unpacks it after the image's
    (concatenated initramfs archives), so this ``/init`` is the one that runs."""
    return gzip.compress(write_newc([CpioEntry("init", stat.S_IFREG | 0o755,
                                               INIT_SCRIPT.encode())]))
