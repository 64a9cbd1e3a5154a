import CFuzzDriver
import Glibc

/// libFuzzer's entry: one input, its length; returns 0.
public typealias FuzzEntry = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer's driver over `entry` and exits with its status (see CFuzzDriver.h for why `main` is ours).
/// Pass a closure that calls the target's `LLVMFuzzerTestOneInput` function: `runFuzzer { fuzzX($0, $1) }`.
public func runFuzzer(_ entry: FuzzEntry) -> Never {
    exit(cfuzz_run_driver(CommandLine.argc, CommandLine.unsafeArgv, entry))
}

/// Stops the run (libFuzzer saves the input) with `message` on standard error; `precondition` drops its
/// message in release builds.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { failed(message()) }
}

/// Stops the run with `message`: a check on the input failed.
public func failed(_ message: String) -> Never {
    let line = "fuzz check failed: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    abort()
}
