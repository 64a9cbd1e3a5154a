import BatchCore
import Testing

/// The one rule for which Deployment a busy worker belongs to (`batchctl probe` and the controller).
@Suite struct WorkerPodsTests {
    let pods = WorkerPods(selectors: ["celery-batch1": ["app": "celery-batch1"],
                                      "celery-batch1-extra": ["app": "celery-batch1-extra"],
                                      "unselective": [:]],
                          pods: [.init(name: "celery-batch1-7d9f8c6b5-x2x7q", labels: ["app": "celery-batch1", "pod-template-hash": "7d9f8c6b5"]),
                                 .init(name: "celery-batch1-extra-5c4b3a2d1-abcde", labels: ["app": "celery-batch1-extra"]),
                                 .init(name: "renamed-worker", labels: ["app": "celery-batch1"]),
                                 .init(name: "celery-batch1-7d9f8c6b5-other", labels: ["app": "something-else"])])

    @Test(arguments: [
        ("celery@celery-batch1-7d9f8c6b5-x2x7q", "celery-batch1"),
        ("celery@celery-batch1-extra-5c4b3a2d1-abcde", "celery-batch1-extra"),
        ("celery@renamed-worker", "celery-batch1"),              // selected by its labels, whatever its name
        ("celery@celery-batch1-7d9f8c6b5-other", nil),           // named like one, not selected
        ("celery@celery-batch1-7d9f8c6b5-gone", nil),            // no such pod
        ("worker@celery-batch1-7d9f8c6b5-x2x7q", nil),           // not celery@<pod>
        ("celery@", nil),
    ] as [(String, String?)])
    func aWorkerBelongsToTheDeploymentWhoseSelectorSelectsItsPod(hostname: String, expected: String?) {
        #expect(pods.deployment(ofHostname: hostname) == expected)
    }

    @Test func busyWorkersAreCountedPerDeploymentAndAnEmptySelectorSelectsNothing() {
        let busy = ["celery@celery-batch1-7d9f8c6b5-x2x7q", "celery@renamed-worker", "celery@celery-batch1-7d9f8c6b5-other",
                    "celery@celery-batch1-extra-5c4b3a2d1-abcde"]
        #expect(pods.busyCount(of: "celery-batch1", busyHostnames: busy) == 2)
        #expect(pods.busyCount(of: "celery-batch1-extra", busyHostnames: busy) == 1)
        #expect(pods.busyCount(of: "unselective", busyHostnames: busy) == 0)
        #expect(pods.busyCount(of: "not-read", busyHostnames: busy) == 0)
        #expect(!WorkerPods.selects([:], labels: ["app": "x"]))
        #expect(WorkerPods.selects(["app": "x"], labels: ["app": "x", "more": "y"]))
    }
}
