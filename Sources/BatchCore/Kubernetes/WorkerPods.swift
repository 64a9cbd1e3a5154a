/// Which worker Deployment a Celery worker belongs to: the one rule `batchctl probe` and the controller share,
/// so both report the same busy workers for the same Redis and pods. Pure.
///
/// A worker names itself `celery@<pod name>` (the worker Deployments run `--hostname celery@$POD_NAME`), and a
/// pod belongs to a Deployment when the Deployment's `spec.selector.matchLabels` selects the pod's labels, as
/// the Deployment's ReplicaSet selects its pods (an empty selector selects nothing here: such a Deployment is
/// not one of batchctl's). Pods being deleted are left out by whoever reads them (the controller's caches and
/// the probe both do). A busy worker is one whose last heartbeat is fresh and reports a running task; its
/// Deployment is found by its pod, never by the shape of its name.

import MemberwiseInit

public struct WorkerPods: Sendable, Equatable {
    /// A pod as the rule needs it.
    @MemberwiseInit(.public)
    public struct Pod: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
    }

    /// Pod names by Deployment name.
    public private(set) var podsByDeployment: [String: Set<String>]

    /// - Parameters:
    ///   - selectors: each Deployment's `spec.selector.matchLabels`, by Deployment name.
    ///   - pods: the namespace's pods (not being deleted).
    public init(selectors: [String: [String: String]], pods: [Pod]) {
        var byDeployment: [String: Set<String>] = [:]
        for (deployment, selector) in selectors {
            byDeployment[deployment] = Set(pods.lazy.filter { Self.selects(selector, labels: $0.labels) }.map(\.name))
        }
        podsByDeployment = byDeployment
    }

    /// Whether `selector` (`matchLabels`) selects a pod with `labels`; an empty selector selects nothing.
    public static func selects(_ selector: [String: String], labels: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// The pod name in a worker hostname `celery@<pod name>`; nil for any other hostname (heartbeats come
    /// from whoever can publish on the broker, and only `celery@<pod>` can be batchctl's workers).
    public static func podName(hostname: String) -> String? {
        guard hostname.hasPrefix("celery@") else { return nil }
        let name = hostname.dropFirst(7)
        return name.isEmpty ? nil : String(name)
    }

    /// How many of `busyHostnames` (workers with a fresh heartbeat and a running task) run in one of `pods`.
    public static func busyCount(busyHostnames: some Sequence<String>, pods: Set<String>) -> Int {
        busyHostnames.reduce(0) { n, hostname in
            podName(hostname: hostname).map(pods.contains) == true ? n + 1 : n
        }
    }

    /// Busy workers of `deployment` (0 for a Deployment not among the selectors given).
    public func busyCount(of deployment: String, busyHostnames: some Sequence<String>) -> Int {
        Self.busyCount(busyHostnames: busyHostnames, pods: podsByDeployment[deployment] ?? [])
    }

    /// The Deployment whose pod `hostname` is, if any (the alphabetically first, should two select it).
    public func deployment(ofHostname hostname: String) -> String? {
        guard let pod = Self.podName(hostname: hostname) else { return nil }
        return podsByDeployment.filter { $0.value.contains(pod) }.keys.min()
    }
}
