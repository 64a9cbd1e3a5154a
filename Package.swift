// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "batchctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "batchctl", targets: ["batchctl"]),
        .library(name: "BatchCore", targets: ["BatchCore"]),
        .library(name: "CeleryRedis", targets: ["CeleryRedis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: a module map plus a shim header with typed wrappers for variadic C calls.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // No pkgConfig: hiredis.pc carries -D_FILE_OFFSET_BITS=64, which SwiftPM warns about on every build.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),

        // Domain types, policy, configuration. No I/O.
        .target(name: "BatchCore", dependencies: [
            .product(name: "Yams", package: "Yams"),
        ]),

        // Celery on Redis: hiredis connection on its own thread, kombu key layout, queue probe, heartbeats.
        .target(name: "CeleryRedis", dependencies: ["BatchCore", "CHiredis"]),

        // The product: argument parsing and wiring only.
        .executableTarget(name: "batchctl", dependencies: [
            "BatchCore",
            "CeleryRedis",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test support: real redis-server and other child processes on loopback, stopped by pid.
        .target(name: "BatchTesting"),

        // Benchmarks (`make bench`, release build): each figure is one row of BENCHMARKS.md.
        .executableTarget(name: "batchbench", dependencies: ["BatchCore", "CeleryRedis", "BatchTesting"]),

        .testTarget(name: "BatchCoreTests", dependencies: ["BatchCore"]),
        .testTarget(name: "CeleryRedisTests", dependencies: ["BatchCore", "CeleryRedis", "BatchTesting"]),
        .testTarget(name: "BatchctlTests", dependencies: ["BatchCore", "BatchTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
