#!/bin/busybox sh
# PID 1 of the test VM (tests/vm/mod.rs builds the initramfs): a cgroup v2 host with corral's
# controller running as root, then the scenarios (tests/vm/guest.rs), then power off.
# Lines for the host start with "CORRAL-VM "; everything else on the console is for people.
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root CORRAL_HOME=/root/corral CORRAL_VM_GUEST=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo '+cpu +memory +pids' > /sys/fs/cgroup/cgroup.subtree_control
ip link set lo up
mkdir -p /root/manifests /root/corral
chmod 0700 /root /root/corral
echo "CORRAL-VM booted uptime=$(cut -d' ' -f1 /proc/uptime)s kernel=$(uname -r) controllers=$(tr ' ' , < /sys/fs/cgroup/cgroup.subtree_control)"

# As systemd runs it with Delegate=yes: in a cgroup of its own, the controllers enabled for it,
# and processes in it (so corral must move itself to a leaf before enabling them for children).
mkdir /sys/fs/cgroup/corral.service
(echo 0 > /sys/fs/cgroup/corral.service/cgroup.procs &&
    exec corral controller --manifests /root/manifests) > /tmp/controller.log 2>&1 &
/bin/vm-guest --ignored --exact guest_scenarios --nocapture --test-threads=1
status=$?
if [ "$status" != 0 ]; then
    echo "--- controller log (last 60 lines) ---"
    tail -n 60 /tmp/controller.log
fi
echo "CORRAL-VM end status=$status uptime=$(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
