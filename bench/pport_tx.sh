#!/usr/bin/env bash
# Runs bench/pport_tx (the Linux packet port's two ways to transmit) on a
# veth pair in two namespaces of its own; the peer has no address, so its
# IP layer drops every frame. Prints the figures; they are one run on this
# machine, not a result to quote without repeating it. Root.
# Usage: bench/pport_tx.sh [BIN [FRAMES]]
set -u
bin=${1:-build/rel/bench/pport_tx}
frames=${2:-200000}
id=$$
ns_a=usnptxa$id ns_b=usnptxb$id
cleanup() { ip netns del "$ns_a" 2>/dev/null; ip netns del "$ns_b" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$ns_a" && ip netns add "$ns_b" &&
	ip link add "ptxa$id" netns "$ns_a" type veth peer name "ptxb$id" netns "$ns_b" &&
	ip -n "$ns_a" link set "ptxa$id" up && ip -n "$ns_b" link set "ptxb$id" up || exit 1
mac=$(ip netns exec "$ns_b" cat "/sys/class/net/ptxb$id/address")
ip netns exec "$ns_a" "$bin" "ptxa$id" "$frames" "$mac"
echo "peer: $(ip -n "$ns_b" -s link show "ptxb$id" | sed -n '4p' | awk '{print $2 " packets, " $1 " bytes received"}')"
