/* apps/common/cli.c: command-line helpers shared by the programs under
 * apps/ (see cli.h). Portable C plus POSIX inet_pton; no DPDK, no libusnet:
 * bsd_ws links it too. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

bool cli_parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = ntohl(a.s_addr);
	return true;
}

bool cli_parse_ip6(const char *s, uint8_t addr[16])
{
	return inet_pton(AF_INET6, s, addr) == 1;
}

bool cli_parse_ip6_prefix(const char *s, uint8_t addr[16], uint8_t *prefix)
{
	char buf[64];
	const char *p = strchr(s, '/');
	uint64_t v;
	if (!p || (size_t)(p - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(p - s));
	buf[p - s] = '\0';
	if (!cli_parse_ip6(buf, addr) || !cli_parse_u64(p + 1, 128, &v) || v == 0)
		return false;
	*prefix = (uint8_t)v;
	return true;
}

bool cli_is_ip6(const char *s)
{
	return strchr(s, ':') != NULL;
}

const char *cli_ip6_text(const uint8_t addr[16], char *out, size_t len)
{
	if (!inet_ntop(AF_INET6, addr, out, (socklen_t)len))
		snprintf(out, len, "?");
	return out;
}

bool cli_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return true;
}

bool cli_parse_addr_num(const char *s, char sep, uint32_t *ip, uint64_t max, uint64_t *num,
			bool num_required)
{
	char buf[64];
	const char *p = strchr(s, sep);
	size_t n = p ? (size_t)(p - s) : strlen(s);
	if (n >= sizeof(buf) || (!p && num_required))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!cli_parse_ip(buf, ip))
		return false;
	return !p || (cli_parse_u64(p + 1, max, num) && *num > 0);
}

void cli_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

const char *cli_need(const char *prog, int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		cli_fail(prog, "option %s needs a value", argv[*i]);
	return argv[++*i];
}

bool cli_help_asked(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

void cli_help_exit(int argc, char **argv, const char *usage)
{
	if (cli_help_asked(argc, argv)) {
		fputs(usage, stdout);
		exit(0);
	}
}

int cli_dashdash(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

static volatile int cli_stop; /* int is glibc's sig_atomic_t */

static void cli_on_stop(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void cli_stop_on_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

const volatile int *cli_stop_flag(void)
{
	return &cli_stop;
}
