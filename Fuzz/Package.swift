// swift-tools-version:6.1
// libFuzzer targets for batchctl's parsers (`make fuzz`, see README.md here).
//
// A package of its own, depending on the root package by path, so that the root `swift build` and
// `swift test` never see these targets: each executable's `main` runs libFuzzer's driver, so it only links
// when built with `-sanitize=fuzzer` (Fuzz/fuzz.sh passes it, with AddressSanitizer).
import PackageDescription

let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("fuzz-config-loader", [.product(name: "BatchCore", package: "batchctl")]),
    ("fuzz-kubeconfig", [.product(name: "KubeClient", package: "batchctl")]),
    ("fuzz-timespan", [.product(name: "BatchCore", package: "batchctl")]),
    ("fuzz-redis-url", [.product(name: "BatchCore", package: "batchctl")]),
    ("fuzz-watch-event", [.product(name: "KubeClient", package: "batchctl"), .product(name: "BatchCore", package: "batchctl")]),
    ("fuzz-kube-status", [.product(name: "KubeClient", package: "batchctl")]),
    // YAML has no product of its own; BatchCore's brings the module.
    ("fuzz-yaml", [.product(name: "BatchCore", package: "batchctl")]),
    ("fuzz-worker-event", [.product(name: "CeleryRedis", package: "batchctl")]),
    ("fuzz-unacked-entry", [.product(name: "CeleryRedis", package: "batchctl")]),
]

let package = Package(
    name: "batchctl-fuzz",
    platforms: [.macOS(.v15)],
    products: fuzzTargets.map { .executable(name: $0.name, targets: [$0.name]) },
    dependencies: [.package(name: "batchctl", path: "..")],
    targets: [.target(name: "CFuzzDriver"), .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"])] + fuzzTargets.map { target in
        .executableTarget(name: target.name, dependencies: ["FuzzSupport"] + target.dependencies,
                          path: "Sources/\(target.name)")
    },
    swiftLanguageModes: [.v6]
)
