# bench/compare_ratios.py: the ratios of bench/usn_load_compare.sh's points,
# each with the method that makes it like for like, or the reason it is not
# computed. Shared by usn_load_compare.sh and report_extra.py.
"""Ratios between usn_load_compare points, each stating its method."""

METHOD = ("req/s: 2xx responses within the per-request timeout, per second of the client's own measured "
          "window; CPU: busy time (user, system, irq, softirq; steal apart) of the server's core and the "
          "client's core from /proc/stat over that same window (anything else running on those cores counts too: "
          "measure on an idle machine)")

# The client's port on a veth point: DPDK's virtual devices (net_af_xdp, else
# net_af_packet) or the Linux packet port. Points written before the packet
# port existed carry no "port": they are DPDK's.
PORT_NAMES = {"dpdk": "DPDK", "packet": "the Linux packet port"}
SAME_CLIENT = (("same_client_minimal_vs_bsd_req_s", "req_s", "req/s"),
               ("same_client_minimal_vs_bsd_req_s_per_server_core", "req_s_per_server_core",
                "req/s per busy server core"),
               ("same_client_minimal_vs_bsd_req_s_per_core", "req_s_per_core",
                "req/s per busy core, server and client"))


def _port(p):
    return p.get("port") or "dpdk"


def _device(port, vdev):
    return "the Linux packet port (--iface)" if port == "packet" else "DPDK's %s" % vdev


def _point(points, link, server, port=None):
    for p in points:
        if p.get("link") == link and p.get("server") == server and p.get("req_s") and \
                (port is None or _port(p) == port):
            return p
    return None


def _div(a, b, key):
    if not a or not b or not a.get(key) or not b.get(key):
        return None
    return round(a[key] / b[key], 2)


def _timeouts(a, b):
    ta, tb = a.get("timeout_s"), b.get("timeout_s")
    return "timeout %g s both" % ta if ta == tb else "timeouts differ (%s s, %s s)" % (ta, tb)


def _same_client(points, port):
    """The same-client ratios of one client port: {key: {...}}."""
    out = {}
    vm, vb = _point(points, "veth", "minimal_ws", port), _point(points, "veth", "bsd_ws", port)
    for key, field, what in SAME_CLIENT:
        if not vm or not vb:
            out[key] = {"value": None, "why": "a veth point on %s has no result" % PORT_NAMES.get(port, port)}
        elif vm.get("client") != vb.get("client") or vm.get("vdev") != vb.get("vdev"):
            # Same client means the same client driver too: af_xdp against
            # af_packet would compare the drivers as much as the servers.
            out[key] = {"value": None, "why": "the two points ran on different client drivers (%s %s against "
                        "minimal_ws, %s %s against bsd_ws)" % (vm.get("client"), vm.get("vdev"),
                                                                 vb.get("client"), vb.get("vdev"))}
        else:
            v = _div(vm, vb, field)
            out[key] = {"value": v, "points": [vm["name"], vb["name"]], "client_port": port,
                        "minimal_ws_req_s": vm.get("req_s"), "client_vdev": vm.get("vdev"),
                        "method": "%s, minimal_ws / bsd_ws, same client: usn_load over %s on a veth, "
                                  "every body checked, %s" % (what, _device(port, vm.get("vdev")),
                                                              _timeouts(vm, vb))}
            if v is None:
                out[key] = {"value": None, "why": "no %s on one side" % field}
    return out


def ratios(points):
    """{name: {"value": x or None, "method" or "why": text, "points": [names]}}.

    The same-client ratios are computed per client port ("<key>.dpdk",
    "<key>.packet"), each pair measured with the same client driver; the
    plain "<key>" is the one of the port on which minimal_ws served the most
    requests per second (the best project port on the rig), and says so."""
    out = {}
    ports = []
    for p in points:
        if p.get("link") == "veth" and _port(p) not in ports:
            ports.append(_port(p))
    per = {port: _same_client(points, port) for port in ports}
    for port, r in per.items():
        for key, v in r.items():
            out["%s.%s" % (key, port)] = v
    done = [port for port in ports if per[port]["same_client_minimal_vs_bsd_req_s"]["value"] is not None]
    best = max(done, key=lambda port: per[port]["same_client_minimal_vs_bsd_req_s"]["minimal_ws_req_s"] or 0) \
        if done else None
    for key, _, _ in SAME_CLIENT:
        if best is None:
            whys = ["%s: %s" % (PORT_NAMES.get(port, port), per[port][key]["why"]) for port in ports]
            out[key] = {"value": None, "why": "; ".join(whys) or "no veth point has a result"}
            continue
        v = dict(per[best][key])
        if v.get("value") is not None:
            others = [port for port in done if port != best]
            v["method"] += "; minimal_ws's best client port on this rig: %s%s" % (
                PORT_NAMES.get(best, best), "".join(
                    " (minimal_ws served %.0f req/s with both on %s)" % (
                        per[o]["same_client_minimal_vs_bsd_req_s"]["minimal_ws_req_s"],
                        _device(o, per[o]["same_client_minimal_vs_bsd_req_s"]["client_vdev"]))
                    for o in others))
        out[key] = v
    m, lo = _point(points, "memif", "minimal_ws"), _point(points, "loopback", "bsd_ws")
    for key, field, what in (("cheapest_link_req_s", "req_s", "req/s"),
                             ("cheapest_link_req_s_per_core", "req_s_per_core",
                              "req/s per busy core, server and client")):
        if not m or not lo:
            out[key] = {"value": None, "why": "the memif or the loopback point has no result"}
            continue
        v = _div(m, lo, field)
        if v is None:
            out[key] = {"value": None, "why": "no %s on one side" % field}
            continue
        out[key] = {"value": v, "points": [m["name"], lo["name"]],
                    "method": "%s, each stack on its cheapest link: usn_load -> minimal_ws over net_memif "
                              "against %s -> bsd_ws over Linux loopback (clients differ: %s); %s; bodies "
                              "checked: %s against %s" % (
                                  what, lo.get("client"), "usn_load cannot run on Linux loopback: lo's "
                                  "all-zero MAC is refused and lo answers no ARP", _timeouts(m, lo),
                                  m.get("body_check", "?"), lo.get("body_check", "?"))}
    return out
