// swift-tools-version:6.1
import CompilerPluginSupport
import PackageDescription

let package = Package(
    name: "batchctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "batchctl", targets: ["batchctl"]),
        .library(name: "BatchCore", targets: ["BatchCore"]),
        .library(name: "CeleryRedis", targets: ["CeleryRedis"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .executable(name: "kubesim", targets: ["kubesim"]),
        .library(name: "KubeSim", targets: ["KubeSim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
    ],
    targets: [
        // System libraries: a module map plus a shim header with typed wrappers for variadic C calls.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // No pkgConfig: hiredis.pc carries -D_FILE_OFFSET_BITS=64, which SwiftPM warns about on every build.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // glibc's <malloc.h> (mallopt): batchctl keeps to one malloc arena (the controller's memory, issue 7).
        .systemLibrary(name: "CMalloc"),

        // `@MemberwiseInit(.public)`: the public memberwise initializer Swift does not synthesize, written by a macro
        // (the compiler plugin, built for the build machine only) instead of by hand for each public data type.
        .macro(name: "MemberwiseInitMacros", dependencies: [
            .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
            .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
        ]),
        .target(name: "MemberwiseInit", dependencies: ["MemberwiseInitMacros"]),

        // YAML without Foundation: libyaml's parser composed into a node tree (duplicate keys refused,
        // aliases bounded), and a block-style emitter. Keeps the controller's binary free of full Foundation.
        .target(name: "YAML", dependencies: ["CLibYAML", "MemberwiseInit"]),

        // Thin POSIX wrappers for the modules with I/O: detached threads, writes to standard error, whole-file
        // reads (what Foundation's Thread, FileHandle and String(contentsOfFile:) did before FoundationEssentials).
        .target(name: "Posix", dependencies: ["MemberwiseInit"]),

        // Domain types, policy, configuration. No I/O.
        .target(name: "BatchCore", dependencies: ["MemberwiseInit", "YAML"]),

        // The reconcile loop: observe (cluster caches, Redis) → decide → act only on difference.
        .target(name: "Controller", dependencies: [
            "BatchCore", "CeleryRedis", "KubeClient", "MemberwiseInit", "Posix",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Celery on Redis: hiredis connection on its own thread, kombu key layout, queue probe, heartbeats.
        .target(name: "CeleryRedis", dependencies: ["BatchCore", "CHiredis", "MemberwiseInit", "Posix"]),

        // Kubernetes API client: kubeconfig and in-cluster config, libcurl transport, typed calls, list+watch.
        .target(name: "KubeClient", dependencies: [
            "BatchCore", "CCurl", "MemberwiseInit", "Posix", "YAML",
        ]),

        // The CLI's cluster orchestration: identity, reservation writes with resourceVersion preconditions
        // (re-read and report the winner on a lost race), status output, describe. Tested through `batchctl`.
        .target(name: "BatchctlKit", dependencies: [
            "BatchCore", "KubeClient", "MemberwiseInit", "YAML",
        ]),

        // The product: argument parsing and wiring only.
        .executableTarget(name: "batchctl", dependencies: [
            "BatchCore",
            "BatchctlKit",
            "CMalloc",
            "CeleryRedis",
            "Controller",
            "KubeClient",
            "Posix",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: [
            // The controller's resident memory (issue 7; BENCHMARKS.md, "Controller memory"): lld places the
            // functions `batchctl controller` runs (linker/batchctl.order, from scripts/controller-order.py) together,
            // so the kernel's 64 KiB fault-around maps little code that never runs; relative relocations packed
            // (DT_RELR, glibc 2.36) instead of 1 MB of .rela.dyn read at start; no dynamic symbol table of our
            // own symbols (nothing looks them up). The compile side, -function-sections, is in the Makefile and
            // the Dockerfile (it must reach the dependencies' modules too).
            .unsafeFlags([
                "-use-ld=lld",
                "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/linker/batchctl.order",
                "-Xlinker", "--no-warn-symbol-ordering",
                "-Xlinker", "--no-export-dynamic",
            ], .when(platforms: [.linux], configuration: .release)),
        ]),

        // The Kubernetes API emulator: HTTPS server, generic object store, watches, auth, kubelet.
        .target(name: "KubeSim", dependencies: [
            "BatchCore",
            "MemberwiseInit",
            "Posix",
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
            "YAML",
        ]),

        // Local processes, shared by the tests, the benchmarks and `kubesim demo`: child processes stopped by pid,
        // commands with a time limit, free loopback ports, bounded waits, temporary directories, a real redis-server.
        .target(name: "LocalProcesses"),

        // `kubesim demo`: redis-server, KubeSim with its kubelet running real Celery workers, the CRD and queues,
        // `batchctl controller` as a child process, a webhook receiver, and the narrated scenario with its timeline.
        .target(name: "KubeSimDemo", dependencies: [
            "BatchCore", "BatchTesting", "CeleryRedis", "KubeSim", "LocalProcesses",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // The emulator executable: `kubesim serve` and `kubesim demo` (argument parsing and wiring only).
        .executableTarget(name: "kubesim", dependencies: [
            "KubeSim",
            "KubeSimDemo",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test support: KubeSim, Celery and the controller harness on loopback (re-exports LocalProcesses).
        .target(name: "BatchTesting", dependencies: ["LocalProcesses", "MemberwiseInit", "Posix"]),

        .testTarget(name: "YAMLTests", dependencies: [
            "YAML",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),

        .testTarget(name: "PosixTests", dependencies: ["Posix"]),
        .testTarget(name: "MemberwiseInitTests", dependencies: [
            "MemberwiseInitMacros",
            .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
            .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
        ]),

        .testTarget(name: "BatchCoreTests", dependencies: [
            "BatchCore",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),

        // The RSS floor (`batchbench --only rss-floor`): Swift runtime + libcurl HTTPS and nothing else.
        .executableTarget(name: "rssfloor", dependencies: ["CCurl"]),

        // Benchmarks (`make bench`, release build): each figure is one row of BENCHMARKS.md.
        .executableTarget(name: "batchbench", dependencies: ["BatchCore", "CeleryRedis", "BatchTesting"]),

        // The benchmarks' pure helpers in BatchTesting (percentiles, request-log tallies, the table, timed commands).
        .testTarget(name: "BatchTestingTests", dependencies: ["BatchTesting"]),

        .testTarget(name: "CeleryRedisTests", dependencies: ["BatchCore", "CeleryRedis", "BatchTesting"]),
        .testTarget(name: "BatchctlTests", dependencies: ["BatchCore", "BatchctlKit", "BatchTesting"]),
        .testTarget(name: "ControllerTests", dependencies: [
            "Controller", "BatchCore", "BatchTesting",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ControllerIntegrationTests", dependencies: ["BatchTesting"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "BatchCore", "BatchTesting", "CCurl"]),
        .testTarget(name: "KubeSimTests", dependencies: ["KubeSim", "BatchTesting"]),
        // `kubesim demo` end to end: the scenario's timeline, exactly-once tasks, no process left behind.
        .testTarget(name: "DemoTests", dependencies: ["BatchTesting"]),
        // Fault injection (`make chaos` runs the full form, `make test` a short one): see docs/chaos.md.
        .testTarget(name: "ChaosTests", dependencies: ["BatchTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
