/* hello: the smallest server on libusnet. Each TCP connection to port 7
 * gets one line, then a FIN. Build it against an installed libusnet:
 *     cc hello.c $(pkg-config --cflags --libs usnet-port) -o hello
 * Run it on a Linux interface (the packet port; root):
 *     ./hello --iface IF 198.18.0.2/24 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usnet/backend.h> /* the port: --iface IF, or DPDK's EAL options and "--" */
#include <usnet/tcp.h>

static const char line[] = "hello from libusnet\n";
static volatile int stop; /* set on SIGINT; the worker's loop watches it */

static void on_sigint(int sig) { (void)sig; stop = 1; }

/* On the worker that owns the connection, once the handshake is done. */
static void connected(struct usn_tcp_conn *c, void *user)
{
	(void)user;
	usn_tcp_send_ref(c, line, sizeof(line) - 1, NULL); /* by reference: line must stay */
	usn_tcp_close(c);                                  /* FIN after the line */
}

static int worker(void *stack, uint16_t i)
{
	usn_worker_start(usn_stack_worker(stack, i));
	usn_worker_run(usn_stack_worker(stack, i), &stop); /* polls until SIGINT */
	return 0;
}

int main(int argc, char **argv)
{
	static const struct usn_tcp_handlers handlers = {.connected_fn = connected};
	struct usn_backend *port = NULL;
	struct usn_stack_config cfg;
	struct in_addr ip;
	char msg[256] = "";
	int first = usn_backend_open(argc, argv, 1, &port, msg, sizeof(msg)); /* one worker */
	char *slash = first > 0 && first == argc - 1 ? strchr(argv[first], '/') : NULL;

	if (slash)
		*slash = '\0';
	if (!slash || inet_pton(AF_INET, argv[first], &ip) != 1) {
		fprintf(stderr, "usage: hello --iface IF ADDR/PREFIX %s\n", msg);
		usn_backend_close(port);
		return 2;
	}
	usn_stack_config_init(&cfg, ntohl(ip.s_addr), (uint8_t)atoi(slash + 1));
	struct usn_stack *s = usn_stack_create(usn_backend_hal(port), &cfg);
	if (!s || usn_tcp_listen(s, 7, &handlers, NULL) != 0)
		return 1;
	signal(SIGINT, on_sigint);
	printf("hello: listening on %s port 7\n", argv[first]);
	fflush(stdout);
	usn_backend_run(port, worker, s);
	usn_stack_destroy(s);
	usn_backend_close(port);
	return 0;
}
