import Foundation

/// Where the demo finds what it runs: `batchctl` next to `kubesim`, the Celery app in `demo/celery`, the
/// project's venv (`.venv`, from `make deps`), and the CRD and BatchQueues in `deploy/base`.
struct DemoPaths: Sendable {
    /// The repository checkout (holds `demo/`, `deploy/` and `.venv`).
    let root: String
    /// The directory of the `kubesim` and `batchctl` executables.
    let binDirectory: String

    var batchctl: String { "\(binDirectory)/batchctl" }
    var celeryApp: String { "\(root)/demo/celery" }
    var python: String { "\(root)/.venv/bin/python" }
    var celery: String { "\(root)/.venv/bin/celery" }
    var crd: String { "\(root)/deploy/crds/crd-batchqueues.yaml" }
    var policyCRD: String { "\(root)/deploy/crds/crd-batchqueuepolicies.yaml" }
    var batchQueues: String { "\(root)/deploy/base/batchqueues.yaml" }

    /// Finds the checkout: `projectDirectory` when given, else the current directory or one of its parents,
    /// else the source tree this binary was built from. Then checks that everything is in place.
    static func locate(projectDirectory: String?) throws(DemoError) -> DemoPaths {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let bin = URL(fileURLWithPath: exe).deletingLastPathComponent().path
        let root: String
        if let projectDirectory {
            root = URL(fileURLWithPath: projectDirectory).standardizedFileURL.path
            guard isCheckout(root) else {
                throw .missing("\(root) has no demo/celery/app.py: pass --project-dir the batchctl checkout.")
            }
        } else if let found = candidates().first(where: isCheckout) {
            root = found
        } else {
            throw .missing("Cannot find the batchctl checkout (demo/celery/app.py) from the current directory: run `make demo` in the checkout, or pass --project-dir.")
        }
        let paths = DemoPaths(root: root, binDirectory: bin)
        try paths.check()
        return paths
    }

    private static func candidates() -> [String] {
        var list: [String] = []
        var url = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            list.append(url.path)
            url.deleteLastPathComponent()
        }
        var source = URL(fileURLWithPath: #filePath)   // Sources/KubeSimDemo/DemoPaths.swift
        for _ in 0..<3 { source.deleteLastPathComponent() }
        list.append(source.path)
        return list
    }

    private static func isCheckout(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(path)/demo/celery/app.py")
    }

    private func check() throws(DemoError) {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: batchctl) else {
            throw .missing("batchctl is not built next to kubesim (\(batchctl)): run `swift build --product batchctl`, or `make demo`.")
        }
        guard fm.isExecutableFile(atPath: python), fm.isExecutableFile(atPath: celery) else {
            throw .missing("The Celery workers run from the project's venv, and \(root)/.venv has no celery: run `make deps` (or `make demo`).")
        }
        for file in [crd, policyCRD, batchQueues] where !fm.fileExists(atPath: file) {
            throw .missing("\(file) is missing: the demo installs the CRDs (deploy/crds) and the BatchQueues (deploy/base).")
        }
    }
}
