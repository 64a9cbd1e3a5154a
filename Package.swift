// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "batchctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "batchctl", targets: ["batchctl"]),
        .library(name: "BatchCore", targets: ["BatchCore"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
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

        // Kubernetes API client: kubeconfig and in-cluster config, libcurl transport, typed calls, list+watch.
        .target(name: "KubeClient", dependencies: [
            "BatchCore", "CCurl",
            .product(name: "Yams", package: "Yams"),
        ]),

        // The product: argument parsing and wiring only.
        .executableTarget(name: "batchctl", dependencies: [
            "BatchCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test support: real redis-server and other child processes on loopback, stopped by pid.
        .target(name: "BatchTesting"),

        .testTarget(name: "BatchCoreTests", dependencies: ["BatchCore"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "BatchCore", "BatchTesting", "CCurl"]),
        .testTarget(name: "BatchctlTests", dependencies: ["BatchCore", "BatchTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
