// libFuzzer's driver entry point (compiler-rt FuzzerInterface.h); defined in libclang_rt.fuzzer,
// which `-sanitize=fuzzer` links. Declared here so Swift can call it with the C convention.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
