import BatchTesting
import Foundation
import Testing

/// Issue 8 end to end: KubeSim's kubelet runs real `celery worker` processes (concurrency 1, early ack,
/// terminationGracePeriodSeconds 3 s, shorter than the 20 s task), and `batchctl controller` scales them.
/// Every task records "start ID POD" and "done ID POD" in a side-effect file (see `BusyWorkerScenario`).
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct BusyWorkerTests {
    @Test("ceiling 3 → 1 while one worker runs a 20 s task: only idle workers stop; every task runs exactly once")
    func ceilingDropKeepsTheBusyWorker() throws {
        let o = try BusyWorkerScenario.run(.ceilingDrop, busyAware: true)
        let long = try #require(o.longTaskPod)
        #expect(o.stoppedPods.count == 2)
        #expect(!o.stoppedPods.contains(long))
        #expect(o.interrupted.isEmpty)
        #expect(o.exactlyOnce)
        #expect(o.finished.count == 4)                  // three short tasks and the long one
        #expect(o.scaleWrites == [3, 1])
        #expect(o.replicas == 1)
    }

    @Test("the queue drains while a worker runs a 20 s task: no sleep until it finishes, then 0")
    func drainWaitsForTheBusyWorker() throws {
        let o = try BusyWorkerScenario.run(.drain, busyAware: true)
        #expect(!o.sleptWhileBusy)
        #expect(o.interrupted.isEmpty)
        #expect(o.exactlyOnce)
        #expect(o.finished.count == 3)
        #expect(o.scaleWrites == [2, 0])
        #expect(o.replicas == 0)
        #expect(o.phase == "Sleeping")
    }

    @Test("released while a worker runs a 20 s task: idle workers stop at once, the busy one after its task; status and an event say so")
    func releaseDrainsTheBusyWorker() throws {
        let o = try BusyWorkerScenario.run(.release, busyAware: true)
        let long = try #require(o.longTaskPod)
        #expect(o.stoppedPods.count == 3)                 // all of them in the end
        #expect(o.drainingWhileBusy == "True")
        #expect(o.interrupted.isEmpty)
        #expect(o.exactlyOnce)
        #expect(o.finished["long"] == [long])
        #expect(o.scaleWrites == [3, 1, 0])
        #expect(o.events.contains("DrainingBusyWorkers"))
        #expect(o.phase == "Free")
    }

    @Test("busyAware: false (depth only, as KEDA's Redis scaler) sleeps under the running task and kills it")
    func depthOnlyKillsTheRunningTask() throws {
        let o = try BusyWorkerScenario.run(.drain, busyAware: false)
        #expect(o.sleptWhileBusy)
        #expect(o.interrupted == ["long"])
    }
}
