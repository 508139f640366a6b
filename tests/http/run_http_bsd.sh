#!/usr/bin/env bash
# HTTP suite against bsd_ws (the Linux twin) on a veth pair between two
# network namespaces: tests/http/http_rig.sh does the work.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=$top/${O:-build}/rel/apps/bsd_ws
if [ ! -x "$bin" ]; then
	echo "FAIL bsd_ws: $bin not built (make all)"
	exit 1
fi
# --help: exit 0, one line per flag bsd_ws parses, the same rows in its README.
bash "$top/tests/rig/help_check.sh" bsd_ws "$bin" "$top/apps/bsd_ws/bsd_ws.c" "$top/apps/bsd_ws/README.md"
exec bash "$here/http_rig.sh" --kernel-ip bsd_ws -- "$bin" --root @ROOT@ --addr @ADDR@ --port @PORT@ --workers 2 \
	--idle-timeout-ms 5000
