/* libusnet fuzz targets (tests/fuzz): one entry per target, each taking one
 * input and returning 0. libFuzzer binaries, the standalone replay driver
 * and the cmocka replay test (tests/sim/test_fuzz_replay.c) all call these. */
#ifndef USN_FUZZ_TARGETS_H
#define USN_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Every wire parser over a random buffer chain, plus parse/emit round trips. */
int fuzz_wire_one(const uint8_t *data, size_t size);
/* Raw frames into a stack holding connections in many states. */
int fuzz_frame_one(const uint8_t *data, size_t size);
/* Templated TCP segments (options, flags, windows) to those connections. */
int fuzz_tcp_opts_one(const uint8_t *data, size_t size);

/* The libFuzzer entry point (tests/fuzz/fuzz_entry.c binds it to one target). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Calls fn on every regular file of dir (sorted by name); returns the number
 * of files run, or -1 if dir cannot be read. A file that cannot be read is
 * reported on stderr and counted in *failed. */
long fuzz_replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t), long *failed);

/* Runs fn on one file's bytes (an exact-size copy); 0, or -1 if unreadable. */
int fuzz_replay_file(const char *path, int (*fn)(const uint8_t *, size_t));

/* A finding: prints what broke and aborts (libFuzzer saves the input). */
#define FUZZ_CHECK(cond)                                                                                     \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			fuzz_fail(__FILE__, __LINE__, #cond);                                                \
	} while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
