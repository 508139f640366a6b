/* LD_PRELOAD shim for tests/rig/run_pport_flags.sh: makes setsockopt refuse
 * what an older or stripped-down kernel would, so the packet port's
 * fallbacks run on this one. PPORT_REFUSE=vnet: PACKET_VNET_HDR fails with
 * ENOPROTOOPT; PPORT_REFUSE=cbpf: joining a PACKET_FANOUT_CBPF group fails
 * with EINVAL. Everything else goes to the real setsockopt. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int (*real)(int, int, int, const void *, socklen_t) =
	    (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	const char *r = getenv("PPORT_REFUSE");

	if (r && level == SOL_PACKET) {
		uint32_t arg = 0;

		if (strcmp(r, "vnet") == 0 && name == PACKET_VNET_HDR) {
			errno = ENOPROTOOPT;
			return -1;
		}
		if (len >= sizeof(arg))
			memcpy(&arg, val, sizeof(arg));
		if (strcmp(r, "cbpf") == 0 && name == PACKET_FANOUT &&
		    ((arg >> 16) & 0xff) == PACKET_FANOUT_CBPF) {
			errno = EINVAL;
			return -1;
		}
	}
	return real(fd, level, name, val, len);
}
