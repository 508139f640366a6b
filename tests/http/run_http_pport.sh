#!/usr/bin/env bash
# HTTP suite against minimal_ws on the Linux packet port (arch/linux,
# --iface) with two workers in its fanout group, at the server end of a
# veth pair whose kernel side keeps its offloads on (TSO frames and partial
# sums reach the port): tests/http/http_rig.sh does the work. Fails when
# minimal_ws is not built.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=$top/${O:-build}/rel/apps/minimal_ws
if [ ! -x "$bin" ]; then
	echo "FAIL minimal_ws-pport: $bin not built (make)"
	exit 1
fi
exec bash "$here/http_rig.sh" --no-kernel-ip --offloads "minimal_ws-pport" -- "$bin" --iface @IFACE@ \
	--root @ROOT@ --ip @CIDR@ --port @PORT@ --workers 2 --idle-backoff-us 100
