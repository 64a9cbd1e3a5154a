// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "batchctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "batchctl", targets: ["batchctl"]),
        .library(name: "BatchCore", targets: ["BatchCore"]),
        .executable(name: "kubesim", targets: ["kubesim"]),
        .library(name: "KubeSim", targets: ["KubeSim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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

        // The product: argument parsing and wiring only.
        .executableTarget(name: "batchctl", dependencies: [
            "BatchCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The Kubernetes API emulator: HTTPS server, generic object store, watches, auth, kubelet.
        .target(name: "KubeSim", dependencies: [
            "BatchCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Yams", package: "Yams"),
        ]),

        // The emulator executable: `kubesim serve` (argument parsing and wiring only).
        .executableTarget(name: "kubesim", dependencies: [
            "KubeSim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test support: real redis-server, KubeSim and other child processes on loopback, stopped by pid.
        .target(name: "BatchTesting"),

        .testTarget(name: "BatchCoreTests", dependencies: ["BatchCore"]),
        .testTarget(name: "BatchctlTests", dependencies: ["BatchCore", "BatchTesting"]),
        .testTarget(name: "KubeSimTests", dependencies: ["KubeSim", "BatchTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
