/* apps/common/cli.h: the command-line helpers the programs under apps/
 * share (minimal_ws, usn_load, bsd_ws, usn_echo): number, IPv4 and MAC
 * parsers, the one-line exit on a bad flag, the --help and "--" scans. */
#ifndef USN_APPS_CLI_H
#define USN_APPS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* A decimal number up to max into *out: no sign, no empty string, nothing
 * after the digits. false (*out untouched) if s is not one. */
bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* A dotted IPv4 address into *out, host order. */
bool cli_parse_ip(const char *s, uint32_t *out);

/* An IPv6 address (RFC 4291 2.2 text) into addr[16], network order. */
bool cli_parse_ip6(const char *s, uint8_t addr[16]);
/* ADDR/PREFIX for IPv6, prefix 1..128 required. */
bool cli_parse_ip6_prefix(const char *s, uint8_t addr[16], uint8_t *prefix);
/* Whether s looks like an IPv6 address (it has a colon): --ip and --gw
 * take either family. */
bool cli_is_ip6(const char *s);
/* The text of an IPv6 address (out: at least 46 bytes). */
const char *cli_ip6_text(const uint8_t addr[16], char *out, size_t len);

/* An Ethernet address, aa:bb:cc:dd:ee:ff (one or two hex digits a byte). */
bool cli_parse_mac(const char *s, uint8_t mac[6]);

/* ADDR<sep>NUM (ADDR/PREFIX, ADDR:PORT) into *ip and *num, NUM in 1..max.
 * Without sep, *num is left as it was, unless num_required (then false). */
bool cli_parse_addr_num(const char *s, char sep, uint32_t *ip, uint64_t max, uint64_t *num,
			bool num_required);

/* The one exit for a bad command line: one line "prog: <problem> (see
 * --help)" on stderr (the full usage is --help's alone), exit status 2. */
_Noreturn void cli_fail(const char *prog, const char *fmt, ...) CLI_PRINTF(2, 3);

/* The value of the option at argv[*i], advancing *i past it; cli_fail's
 * "option X needs a value" if it is the last word. */
const char *cli_need(const char *prog, int argc, char **argv, int *i);

/* If --help or -h is anywhere in argv[1..argc) (with or without "--", so
 * before the EAL, which would print its own usage and exit), prints usage
 * on stdout and exits 0. */
void cli_help_exit(int argc, char **argv, const char *usage);

/* Whether --help or -h is anywhere in argv[1..argc), for a program that
 * prints more than a fixed usage (the backends' lines). */
bool cli_help_asked(int argc, char **argv);

/* The index of the first "--" in argv[1..argc) (backend options before it,
 * the program's after), or -1 if there is none. */
int cli_dashdash(int argc, char **argv);

/* SIGINT and SIGTERM set the process's stop flag (the one global a signal
 * handler leaves no way around); usn_worker_run and friends poll it. */
void cli_stop_on_signals(void);
const volatile int *cli_stop_flag(void);

#endif
