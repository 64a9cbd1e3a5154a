#include "CFuzzDriver.h"

/* Provided by libclang_rt.fuzzer, which `-sanitize=fuzzer` links in. */
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

int cfuzz_run_driver(int argc, char **argv, int (*test_one)(const uint8_t *data, size_t size)) {
    return LLVMFuzzerRunDriver(&argc, &argv, test_one);
}
