import Foundation
@_exported import LocalProcesses

/// Paths inside this repository (the package root, the built products, the Python venv).
public enum ProjectPaths {
    /// The package root, found from this file's location.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Sources/BatchTesting/Support.swift
        return url.path
    }()

    /// The directory holding the built executables (next to the running test bundle).
    public static let products: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }()

    /// A built executable of this package, such as `batchctl`: in `BATCHCTL_PRODUCTS_DIR` when set (a release
    /// `batchbench` drives the debug `batchctl` and `kubesim`; see `make bench`), else next to the running binary.
    public static func product(_ name: String) -> String {
        if let dir = ProcessInfo.processInfo.environment["BATCHCTL_PRODUCTS_DIR"], !dir.isEmpty { return "\(dir)/\(name)" }
        return "\(products)/\(name)"
    }

    /// The project's Python venv (`make deps` creates it).
    public static var venvPython: String { "\(root)/.venv/bin/python" }
    public static var venvBin: String { "\(root)/.venv/bin" }

    /// Test fixtures (Celery app, producers).
    public static var fixtures: String { "\(root)/Tests/Fixtures" }
}
