// libFuzzer's driver entry (compiler-rt, LLVM 11+): runs the fuzzing loop with the given callback and the
// command line's libFuzzer flags. Declared here so that the Swift `@main` can start libFuzzer itself, which makes
// the fuzzer build both with SwiftPM's `--sanitize=fuzzer` and with `-Xswiftc -sanitize=fuzzer`.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
