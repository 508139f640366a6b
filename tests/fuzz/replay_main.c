/* libusnet fuzz replay driver (tests/fuzz): a main() for builds without
 * libFuzzer (gcc, plain or ASan/UBSan) that runs LLVMFuzzerTestOneInput on
 * every file named, or every file of every directory named. Fails when a
 * file is unreadable or when nothing at all was replayed. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz_targets.h"

int main(int argc, char **argv)
{
	long total = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: not found\n", argv[i]);
			failed++;
			continue;
		}
		long n = fuzz_replay_dir(argv[i], LLVMFuzzerTestOneInput, &failed);
		if (n < 0) {
			/* A file, not a directory. */
			if (fuzz_replay_file(argv[i], LLVMFuzzerTestOneInput) != 0) {
				fprintf(stderr, "replay: %s: unreadable\n", argv[i]);
				failed++;
				continue;
			}
			n = 1;
		}
		printf("replay: %s: %ld inputs\n", argv[i], n);
		total += n;
	}
	printf("replay: %ld inputs, %ld unreadable\n", total, failed);
	if (total == 0) {
		fprintf(stderr, "replay: no input replayed (empty or missing directories)\n");
		return 1;
	}
	return failed ? 1 : 0;
}
