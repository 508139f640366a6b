#!/usr/bin/env bash
# Installs, from Debian's archive, what `make test` (deps.sh test) or
# `make bench` (deps.sh bench) needs, if it is missing. Needs root only when
# something is missing. Idempotent and quiet when everything is present.
set -eu
want_test="build-essential pkg-config libcmocka-dev dpdk-dev libdpdk-dev libnuma-dev
	clang libclang-rt-14-dev python3 python3-scapy curl wrk iproute2 ethtool tcpdump procps
	libbpf-dev libxdp-dev hping3 nftables"
want_bench="$want_test nginx-light lighttpd python3-matplotlib valgrind"
case "${1:-test}" in
test) want=$want_test ;;
bench) want=$want_bench ;;
*) echo "deps.sh: unknown set '$1' (test or bench)" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root, or: apt-get install$missing)" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# nginx and lighttpd start as services on install; the bench runs its own.
for svc in nginx lighttpd; do
	if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done
