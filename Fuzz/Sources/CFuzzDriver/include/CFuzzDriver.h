#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (flags, corpus, mutation loop) over `test_one`, as libFuzzer's own `main` would.
/// SwiftPM links every executable with `--defsym main=<module>_main`, so a fuzz target's `@main` calls this
/// instead of relying on libFuzzer's `main`.
int cfuzz_run_driver(int argc, char **argv, int (*test_one)(const uint8_t *data, size_t size));

#endif
