#!/usr/bin/env bash
# Rig suite: the DPDK HAL (arch/x86) on net_ring, in one process: buffer
# mapping, RX/TX of single and chained frames, offload flags, software-RSS
# draining, pool accounting (tests/rig/dpdk_hal_test.c). Needs root (else
# SKIP and exit 77: the runner counts it as skipped).
# Binary: $USN_HAL_TEST (default build/rel/tests/rig/dpdk_hal_test).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${USN_HAL_TEST:-build/rel/tests/rig/dpdk_hal_test}
if [ "$(id -u)" != 0 ]; then
	echo "SKIP dpdk_hal: needs root"
	exit 77
fi
if [ ! -x "$BIN" ]; then
	echo "FAIL dpdk_hal: $BIN not built (make with libdpdk installed)"
	exit 1
fi
timeout 120 "$BIN" --no-huge --no-pci -m 256 -l 0-1 --file-prefix="usnh$$" --vdev=net_ring0 --usn-mbufs=2047 --
rc=$?
# The EAL leaves its runtime directory behind.
rm -rf "/var/run/dpdk/usnh$$"
exit $rc
