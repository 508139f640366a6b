# bench/compare_ratios.py: the ratios of bench/usn_load_compare.sh's points,
# each with the method that makes it like for like, or the reason it is not
# computed. Shared by usn_load_compare.sh and report_extra.py.
"""Ratios between usn_load_compare points, each stating its method."""

METHOD = ("req/s: 2xx responses within the per-request timeout, per second of the client's own measured "
          "window; CPU: busy time (user, system, irq, softirq; steal apart) of the server's core and the "
          "client's core from /proc/stat over that same window (anything else running on those cores counts too: "
          "measure on an idle machine)")


def _point(points, link, server):
    for p in points:
        if p.get("link") == link and p.get("server") == server and p.get("req_s"):
            return p
    return None


def _div(a, b, key):
    if not a or not b or not a.get(key) or not b.get(key):
        return None
    return round(a[key] / b[key], 2)


def _timeouts(a, b):
    ta, tb = a.get("timeout_s"), b.get("timeout_s")
    return "timeout %g s both" % ta if ta == tb else "timeouts differ (%s s, %s s)" % (ta, tb)


def ratios(points):
    """{name: {"value": x or None, "method" or "why": text, "points": [names]}}."""
    out = {}
    vm, vb = _point(points, "veth", "minimal_ws"), _point(points, "veth", "bsd_ws")
    for key, field, what in (("same_client_minimal_vs_bsd_req_s", "req_s", "req/s"),
                             ("same_client_minimal_vs_bsd_req_s_per_server_core", "req_s_per_server_core",
                              "req/s per busy server core"),
                             ("same_client_minimal_vs_bsd_req_s_per_core", "req_s_per_core",
                              "req/s per busy core, server and client")):
        if not vm or not vb:
            out[key] = {"value": None, "why": "a veth point has no result"}
        elif vm.get("client") != vb.get("client") or vm.get("vdev") != vb.get("vdev"):
            # Same client means the same client driver too: af_xdp against
            # af_packet would compare the drivers as much as the servers.
            out[key] = {"value": None, "why": "the two points ran on different client drivers (%s %s against "
                        "minimal_ws, %s %s against bsd_ws)" % (vm.get("client"), vm.get("vdev"),
                                                                 vb.get("client"), vb.get("vdev"))}
        else:
            v = _div(vm, vb, field)
            out[key] = {"value": v, "points": [vm["name"], vb["name"]],
                        "method": "%s, minimal_ws / bsd_ws, same client: usn_load over %s on a veth, "
                                  "every body checked, %s" % (what, vm.get("vdev"), _timeouts(vm, vb))}
            if v is None:
                out[key] = {"value": None, "why": "no %s on one side" % field}
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
