/* libusnet fuzz entry (tests/fuzz): binds LLVMFuzzerTestOneInput to the
 * target named by -DFUZZ_ENTRY=fuzz_<target>_one at compile time. */
#include "fuzz_targets.h"

#ifndef FUZZ_ENTRY
#error "compile with -DFUZZ_ENTRY=fuzz_<target>_one"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return FUZZ_ENTRY(data, size);
}
