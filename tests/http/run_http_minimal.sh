#!/usr/bin/env bash
# HTTP suite against minimal_ws (libusnet over DPDK net_af_packet on the
# server end of a veth pair, no hugepages): tests/http/http_rig.sh does the
# work. Without a minimal_ws binary (no DPDK) it cannot run: SKIP, exit 77.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=$top/${O:-build}/rel/apps/minimal_ws
if [ ! -x "$bin" ]; then
	echo "SKIP minimal_ws: $bin not built (needs DPDK and lib/tcp)"
	exit 77
fi
# USN_HTTP_PMD=net_af_xdp selects AF_XDP instead of AF_PACKET. A unique
# file prefix keeps this EAL instance apart from any other.
pmd=${USN_HTTP_PMD:-net_af_packet}
exec bash "$here/http_rig.sh" --no-kernel-ip "minimal_ws-${pmd#net_}" -- "$bin" --no-huge -m 512 --no-pci \
	--file-prefix "usnhttp$$" --vdev="${pmd}0,iface=@IFACE@" -l 0 -- \
	--root @ROOT@ --ip @CIDR@ --port @PORT@ --workers 1 --idle-backoff-us 100
