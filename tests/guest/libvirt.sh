#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# libvirt drives vhost-kt: libvirtd (Debian bookworm's libvirt 9.0, from the
# host's read-only root) runs in the test guest and starts an L2 KVM domain
# whose interface says <backend vhost='/dev/vhost-kt-net-kthread'/>, as in
# docs/libvirt.md.  libvirt opens that node itself and hands the fd to QEMU
# (vhostfd=).  Checked: the domain boots and passes traffic over the tap
# libvirt created, its worker is a kernel thread vhost-<qemu pid> of kthreadd
# in the domain's cgroup, and after destroy and undefine the module unloads.
. "$VKT_REPO/tests/guest/lib.sh"
. "$VKT_REPO/tests/guest/vmlib.sh"

LV=$VKT_TMP/libvirt
DOM=vkt-lv
TAP=vkt-lv0
L1IP=192.0.2.1
L2IP=192.0.2.2
LVD_PID=
# Unix socket of the (monolithic) daemon; bookworm has no virtqemud.
VIRSH=(timeout 120 virsh -q -c qemu:///system)
mounted=()

cleanup() {
	local m i

	if [ -n "$LVD_PID" ]; then
		"${VIRSH[@]}" destroy "$DOM" >/dev/null 2>&1
		"${VIRSH[@]}" undefine "$DOM" >/dev/null 2>&1
		kill -TERM "$LVD_PID" 2>/dev/null
		i=100
		while vkt_alive "$LVD_PID" && ((i-- > 0)); do
			sleep 0.1
		done
		kill -KILL "$LVD_PID" 2>/dev/null
		wait "$LVD_PID" 2>/dev/null
	fi
	vkt_vm_stop_all
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[i]}" 2>/dev/null
	done
	[ ! -d /sys/module/vhost_kt ] || rmmod vhost_kt 2>/dev/null
}
trap cleanup EXIT

# The host root is read-only here: give libvirt tmpfs where it writes.
# /etc/libvirt keeps its content (copied into the tmpfs) so the daemon finds
# its stock configuration, edited below.
lv_mounts() {
	local d

	mkdir -p "$LV/etc"
	cp -a /etc/libvirt/. "$LV/etc/" || return 1
	for d in /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
		[ -d "$d" ] || { echo "$d missing"; return 1; }
		mount -t tmpfs -o mode=0755 "lv$(basename "$d")" "$d" || return 1
		mounted+=("$d")
	done
	cp -a "$LV/etc/." /etc/libvirt/ || return 1
	mkdir -p /run/libvirt
}

# Configuration for a daemon that runs as root in a throwaway guest with a
# read-only root, no systemd, no D-Bus and no polkit.
lv_config() {
	# Clients are root on the local socket only; polkit is not running.
	cat >>/etc/libvirt/libvirtd.conf <<-EOF
	auth_unix_ro = "none"
	auth_unix_rw = "none"
	log_outputs = "3:file:$LV/libvirtd.log"
	EOF
	cat >>/etc/libvirt/qemu.conf <<-EOF
	# QEMU as root: the kernel and initramfs come from the read-only 9p root,
	# whose ownership libvirt could not change for libvirt-qemu anyway.
	user = "root"
	group = "root"
	dynamic_ownership = 0
	# No AppArmor/SELinux profiles can be loaded in the test guest.
	security_driver = "none"
	# QEMU's stdout/stderr straight to /var/log/libvirt/qemu, without
	# virtlogd (one daemon fewer to run).
	stdio_handler = "file"
	# Without systemd-machined libvirt makes the domain's cgroup itself
	# (/machine/...).  The devices controller is left out: on cgroup v2 it
	# is a BPF filter, and the domain's confinement is not under test here,
	# only that the vhost worker joins the domain's cgroup.
	# (libvirt 9.0 knows no "pids" controller.)
	cgroup_controllers = [ "cpu", "memory" ]
	# No private mount namespace for QEMU: the /dev libvirt builds for it
	# lacked /dev/kvm in this chroot on a 9p root ("Could not access KVM
	# kernel module").  The node under test is opened by libvirt anyway.
	namespaces = [ ]
	EOF
	# The default NAT network must not start (dnsmasq, iptables).
	rm -f /etc/libvirt/qemu/networks/autostart/*
}

lv_start() {
	local i=600

	libvirtd >"$LV/libvirtd.out" 2>&1 &
	LVD_PID=$!
	while ((i-- > 0)); do
		vkt_alive "$LVD_PID" || break
		[ -S /run/libvirt/libvirt-sock ] &&
			"${VIRSH[@]}" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$LV/libvirtd.out"
	tail -20 "$LV/libvirtd.log" 2>/dev/null
	return 1
}

lv_domain_xml() {
	cat <<-EOF
	<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
	  <name>$DOM</name>
	  <memory unit='MiB'>256</memory>
	  <vcpu>1</vcpu>
	  <os>
	    <type arch='x86_64' machine='pc'>hvm</type>
	    <kernel>$VKT_L2_KERNEL</kernel>
	    <initrd>$VKT_L2_INITRD</initrd>
	    <cmdline>console=ttyS0 loglevel=4 panic=-1 rdinit=/init tsc=reliable mitigations=off 8250.nr_uarts=1 vkt.ip=$L2IP/24 vkt.queues=1</cmdline>
	  </os>
	  <!-- QEMU gets -cpu host,pku=off, as in the vm-* tests: 7.x needs AVX
	       at boot, and nested KVM on TCG reports a PKRU XSAVE size the
	       kernel rejects.  Neither qemu64 nor migratable='off' (which adds
	       the non-migratable features) got this L2 to print anything. -->
	  <cpu mode='host-passthrough' check='none'>
	    <feature policy='disable' name='pku'/>
	  </cpu>
	  <!-- Without these libvirt passes -no-acpi; the vm-* tests' L2s boot
	       with QEMU's default ACPI machine, so keep that. -->
	  <features>
	    <acpi/>
	    <apic/>
	  </features>
	  <clock offset='utc'/>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>destroy</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>/usr/bin/qemu-system-x86_64</emulator>
	    <interface type='ethernet'>
	      <mac address='52:54:00:00:4c:01'/>
	      <target dev='$TAP'/>
	      <model type='virtio'/>
	      <driver name='vhost'/>
	      <backend tap='/dev/net/tun' vhost='/dev/vhost-kt-net-kthread'/>
	      <rom enabled='no'/>
	      <alias name='ua-net0'/>
	    </interface>
	    <serial type='file'>
	      <source path='$LV/console.log'/>
	      <target port='0'/>
	    </serial>
	    <controller type='usb' model='none'/>
	    <memballoon model='none'/>
	  </devices>
	  <!-- Kicks by I/O port, as in the vm-* tests (see vkt_vm_launch):
	       7.x KVM on TCG's emulated SVM may refuse an MMIO kick. -->
	  <qemu:override>
	    <qemu:device alias='ua-net0'>
	      <qemu:frontend>
	        <qemu:property name='modern-pio-notify' type='bool' value='true'/>
	      </qemu:frontend>
	    </qemu:device>
	  </qemu:override>
	</domain>
	EOF
}

# lv_step DESC CMD...: like vkt_check, but returns CMD's status.  CMD runs
# in this shell (not a subshell), so it may start jobs and set variables.
lv_step() {
	local desc=$1

	shift
	if "$@" >"$LV/step.out" 2>&1; then
		vkt_ok "$desc"
	else
		vkt_fail "$desc"
		vkt_diag "$(tail -30 "$LV/step.out")"
		return 1
	fi
}

# Where the L2's vCPU is, for a boot that printed nothing: QEMU's view of
# the CPU (twice: a spinning CPU moves), and the CPU time of QEMU's threads.
lv_cpu_diag() {
	local i

	for i in 1 2; do
		vkt_diag "$("${VIRSH[@]}" qemu-monitor-command --hmp "$DOM" 'info registers' 2>&1 |
			grep -E 'RIP|CR0|EFER' | head -n 3)"
		vkt_diag "$("${VIRSH[@]}" qemu-monitor-command --hmp "$DOM" 'x/3i $pc' 2>&1)"
		sleep 2
	done
	vkt_diag "$(for t in /proc/"$qpid"/task/*; do
		echo "$(cat "$t/comm") $(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
	done)"
}

# Wait for the L2 init's ready marker on the file-backed serial console.
# Wall-clock bound: on a loaded machine each poll takes a while itself.
lv_wait_ready() {
	local end=$(($(date +%s) + VKT_L2_BOOT_TIMEOUT))

	while (($(date +%s) < end)); do
		grep -q '^vkt-l2-ready' "$LV/console.log" 2>/dev/null && return 0
		grep -q '^vkt-l2-error' "$LV/console.log" 2>/dev/null && break
		vkt_alive "$qpid" || break
		sleep 1
	done
	return 1
}

if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
	vkt_skip "libvirt" "libvirtd/virsh not installed on the host (libvirt-daemon-system, libvirt-clients)"
	vkt_done
	exit
fi
if ! vkt_l2_setup; then
	vkt_skip "libvirt L2 domain" "$VKT_L2_WHY"
	vkt_done
	exit
fi
mkdir -p "$LV"
lv_step "vhost_kt loads" vkt_load_module || { vkt_done; exit; }
lv_step "tmpfs for libvirt's writable directories" lv_mounts || { vkt_done; exit; }
lv_config
t0=$(date +%s)
lv_step "libvirtd starts and answers virsh" lv_start || { vkt_done; exit; }
vkt_diag "libvirtd up in $(($(date +%s) - t0)) s, $(virsh -c qemu:///system version 2>&1 | tr '\n' ' ')"

lv_domain_xml >"$LV/$DOM.xml"
lv_step "virsh define (interface with <backend vhost='/dev/vhost-kt-net-kthread'/>)" \
	"${VIRSH[@]}" define "$LV/$DOM.xml" || { vkt_done; exit; }
t0=$(date +%s)
# The first start also probes QEMU's capabilities, slow under TCG.
if ! lv_step "virsh start" timeout 400 virsh -q -c qemu:///system start "$DOM"; then
	vkt_diag "$(tail -20 /var/log/libvirt/qemu/$DOM.log 2>/dev/null)"
	vkt_diag "$(tail -20 "$LV/libvirtd.log" 2>/dev/null)"
	vkt_done
	exit
fi
qpid=$(cat "/run/libvirt/qemu/$DOM.pid" 2>/dev/null)
vkt_diag "domain started in $(($(date +%s) - t0)) s, QEMU pid ${qpid:-?}"
qlog=/var/log/libvirt/qemu/$DOM.log
# QEMU 7.2 gets -netdev as JSON: {"type":"tap","fd":"N","vhost":true,"vhostfd":"M",...}
if grep -qE -- '-netdev .*"vhost":true,"vhostfd":"[0-9]+"|-netdev .*vhost=on,vhostfd=[0-9]' \
	"$qlog" 2>/dev/null; then
	vkt_ok "libvirt passed the vhost device to QEMU as vhostfd="
else
	vkt_fail "libvirt passed the vhost device to QEMU as vhostfd="
	vkt_diag "$(grep -o -- '-netdev [^ ]*' "$qlog" 2>/dev/null)"
fi
vkt_diag "$(grep -o -- '-device [^ ]*virtio-net-pci[^ ]*' "$qlog" 2>/dev/null)"
fdlink=
for f in /proc/"$qpid"/fd/*; do
	[ "$(readlink "$f")" = /dev/vhost-kt-net-kthread ] && fdlink=$f
done
vkt_check_eq "QEMU holds an fd of /dev/vhost-kt-net-kthread" /dev/vhost-kt-net-kthread \
	"$(readlink "$fdlink" 2>/dev/null)"

if lv_wait_ready; then
	vkt_ok "L2 domain boots ($(($(date +%s) - t0)) s)"
	booted=1
else
	vkt_fail "L2 domain boots"
	vkt_diag "after $(($(date +%s) - t0)) s; QEMU $qpid alive: $(vkt_alive "$qpid" && echo yes || echo no);" \
		"console: $(wc -c <"$LV/console.log" 2>/dev/null) bytes;" \
		"state: $("${VIRSH[@]}" domstate --reason "$DOM" 2>&1)"
	vkt_diag "$(tr -d '\r' <"$LV/console.log" 2>/dev/null | tail -30)"
	vkt_diag "$(grep -E -- '^-(machine|cpu|accel|smp|m) ' "$qlog" 2>/dev/null)"
	vkt_diag "$(grep -v '^-' "$qlog" 2>/dev/null | tail -n 10)"
	lv_cpu_diag
	booted=
fi

if [ -n "$booted" ]; then
	ip addr add "$L1IP/24" dev "$TAP" && ip link set "$TAP" up
	vkt_ping "L1 pings L2 over $TAP" busybox ping -c 3 -w 30 "$L2IP"
	VKT_VM_PID[lv]=$qpid
	vkt_vm_workers lv >"$LV/w0"
	ticks0=$(vkt_workers_ticks "$LV/w0")
	read -r bytes other bps _ < <(vkt_iperf lv "$L2IP" "$LV/tx.json" -t 3)
	if [ "${bytes:-0}" -gt 0 ] && [ "${other:-0}" -gt 0 ]; then
		vkt_ok "iperf3 L1 -> L2 moved $((other / 1024)) KiB ($(vkt_bps "$bps"))"
	else
		vkt_fail "iperf3 L1 -> L2 moved data"
		vkt_diag "$(tail -5 "$LV/tx.json")"
	fi
	vkt_vm_workers lv >"$LV/w"
	unset "VKT_VM_PID[lv]"
	ticks1=$(vkt_workers_ticks "$LV/w")
	qcg=$(sed -n 's/^0:://p' "/proc/$qpid/cgroup")
	vkt_diag "QEMU cgroup: $qcg; workers (tid kind ppid tgid cgroup): $(cat "$LV/w")"
	vkt_check_eq "one vhost-$qpid worker" 1 "$(wc -l <"$LV/w")"
	read -r tid kind ppid tgid cg <"$LV/w"
	if [ "$kind" = kthread ] && [ "$ppid" = 2 ] && [ "$tgid" = "$tid" ] &&
		[ "$(cat "/proc/$tid/comm" 2>/dev/null)" = "vhost-$qpid" ]; then
		vkt_ok "the worker is a kernel thread vhost-$qpid, child of kthreadd"
	else
		vkt_fail "the worker is a kernel thread vhost-$qpid, child of kthreadd"
	fi
	# libvirt put QEMU in a cgroup of the domain's own, not in the daemon's.
	case $qcg in
	*machine*"$DOM"*|*machine*qemu*) vkt_ok "QEMU is in the domain's cgroup ($qcg)" ;;
	*) vkt_fail "QEMU is in the domain's cgroup"; vkt_diag "QEMU cgroup: '$qcg'" ;;
	esac
	vkt_check_eq "the worker is in the domain's cgroup" "$qcg" "$cg"
	if [ "${ticks1:-0}" -gt "${ticks0:-0}" ]; then
		vkt_ok "the worker ran during the transfer ($((ticks1 - ticks0)) ticks)"
	else
		vkt_fail "the worker ran during the transfer"
	fi
fi

state=$("${VIRSH[@]}" domstate "$DOM" 2>&1)
if [ "$state" = running ]; then
	lv_step "virsh destroy" "${VIRSH[@]}" destroy "$DOM"
else
	vkt_fail "virsh destroy: the domain is still running (state: $state)"
fi
i=100
while [ -n "$qpid" ] && vkt_alive "$qpid" && ((i-- > 0)); do
	sleep 0.1
done
i=50
while left=$(grep -lx "vhost-$qpid" /proc/[0-9]*/comm 2>/dev/null) && [ -n "$left" ] &&
	((i-- > 0)); do
	sleep 0.1
done
vkt_check_eq "no vhost-$qpid worker is left" "" "$left"
vkt_check "virsh undefine" "${VIRSH[@]}" undefine "$DOM"
vkt_check "vhost_kt unloads" vkt_unload_module
vkt_done
