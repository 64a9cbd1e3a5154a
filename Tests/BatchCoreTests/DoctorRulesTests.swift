import BatchCore
import Testing

/// `batchctl doctor`'s rules, value in, check out.
@Suite struct DoctorRulesTests {
    @Test("the queues a celery worker command consumes", arguments: [
        (["celery", "-A", "app", "worker", "-Q", "batch1"], ["batch1"]),
        (["celery", "-A", "app", "worker", "-Qbatch1,batch1b"], ["batch1", "batch1b"]),
        (["celery", "worker", "--queues=batch2"], ["batch2"]),
        (["celery", "worker", "--queues", "batch3"], ["batch3"]),
        (["sh", "-c", "exec celery -A app worker -Q 'batch9' --hostname celery@$(POD_NAME)"], ["batch9"]),
    ] as [([String], [String])])
    func consumedQueues(arguments: [String], expected: [String]) {
        #expect(DoctorRules.consumedQueues(arguments) == expected)
    }

    @Test func noQueueFlagMeansCeleryDefaultQueue() {
        #expect(DoctorRules.consumedQueues(["celery", "-A", "app", "worker"]) == nil)
        let c = DoctorRules.consumesQueue(queue: "batch1", deployment: "celery-batch1", arguments: ["celery", "worker"])
        #expect(c.status == .fail)
        #expect(c.detail.contains("'celery'"))
    }

    @Test func aDeploymentConsumingAnotherQueueFailsNamingBoth() {
        let c = DoctorRules.consumesQueue(queue: "batch1", deployment: "celery-batch1", arguments: ["celery", "worker", "-Q", "batch9"])
        #expect(c.status == .fail)
        #expect(c.detail == "consumes batch9, but its BatchQueue's spec.queue is batch1")
        #expect(c.fix?.contains("-Q batch1") == true)
        #expect(DoctorRules.consumesQueue(queue: "batch1", deployment: "d", arguments: ["-Q", "batch1,other"]).status == .ok)
    }

    @Test func noCommandOrArgsIsASkipNotAFailure() {
        let c = DoctorRules.consumesQueue(queue: "batch1", deployment: "celery-batch1", arguments: [])
        #expect(c.status == .skip)
        #expect(c.detail.contains("-Q batch1"))
    }

    @Test func theWorkerContainerIsTheOneRunningCelery() {
        #expect(DoctorRules.workerArguments(containers: [(nil, ["--config", "envoy.yaml"]), (["celery"], ["worker", "-Q", "b"])]) == ["celery", "worker", "-Q", "b"])
        #expect(DoctorRules.workerArguments(containers: [(["./run"], nil), (nil, ["web"])]) == ["./run"])
        #expect(DoctorRules.workerArguments(containers: []) == [])
    }

    @Test("the controller's WorkersMisconfigured condition", arguments: [
        (["celery", "worker", "-Q", "batch1", "--hostname", "celery@$(POD_NAME)"], false, "WorkersOK"),
        (["celery", "worker", "-Q", "batch1"], false, "WorkersOK"),
        (["celery", "worker", "-Q", "batch9", "--hostname", "celery@$(POD_NAME)"], true, "WrongQueue"),
        (["celery", "worker"], true, "WrongQueue"),
        (["celery", "worker", "-Q", "batch1", "--hostname", "w1@laptop"], true, "HostnameNotPod"),
        (["celery", "worker", "-Q", "batch9", "--hostname", "w1@laptop"], true, "WrongQueue"),
    ] as [([String], Bool, String)])
    func workersCondition(arguments: [String], value: Bool, reason: String) throws {
        let c = try #require(DoctorRules.workersCondition(queue: "batch1", deployment: "celery-batch1", arguments: arguments, hasCondition: false))
        #expect(c.type == "WorkersMisconfigured")
        #expect(c.value == value)
        #expect(c.reason == reason)
        if value { #expect(c.message.contains("fix: ")) }
    }

    @Test func bothProblemsAreNamedInOneMessage() throws {
        let c = try #require(DoctorRules.workersCondition(queue: "batch1", deployment: "d", arguments: ["celery", "worker", "-Q", "batch9", "-n", "w1@laptop"], hasCondition: false))
        #expect(c.message.contains("d -Q: consumes batch9") && c.message.contains("d hostname: --hostname w1@laptop"))
    }

    @Test func noCommandGivesNoConditionUnlessOneIsThereToClear() throws {
        #expect(DoctorRules.workersCondition(queue: "batch1", deployment: "d", arguments: [], hasCondition: false) == nil)
        let c = try #require(DoctorRules.workersCondition(queue: "batch1", deployment: "d", arguments: [], hasCondition: true))
        #expect(!c.value && c.reason == "CommandNotSet")
    }

    @Test("eviction policy", arguments: [
        ("noeviction", CheckStatus.ok), ("allkeys-lru", .fail), ("volatile-lru", .fail), ("allkeys-random", .fail),
    ])
    func eviction(policy: String, expected: CheckStatus) {
        let c = DoctorRules.eviction(policy: policy)
        #expect(c.status == expected)
        if expected == .fail { #expect(c.fix?.contains("noeviction") == true) }
    }

    @Test("memory headroom", arguments: [
        (50, 100, CheckStatus.ok), (80, 100, .warn), (95, 100, .fail), (10, 0, .warn), (Int.max, 1, .fail),
    ])
    func memory(used: Int, max: Int, expected: CheckStatus) {
        #expect(DoctorRules.memory(used: used, max: max).status == expected)
    }

    @Test func persistence() {
        #expect(DoctorRules.persistence(aofEnabled: true, rdbSaveRules: "").status == .ok)
        #expect(DoctorRules.persistence(aofEnabled: false, rdbSaveRules: "3600 1 300 100").status == .ok)
        #expect(DoctorRules.persistence(aofEnabled: false, rdbSaveRules: "").status == .warn)
        #expect(DoctorRules.persistence(aofEnabled: nil, rdbSaveRules: nil).status == .skip)
    }

    @Test func gracePeriodShorterThanALongTaskWarns() {
        let c = DoctorRules.gracePeriod(deployment: "celery-batch1", graceSeconds: 3, longestTaskSeconds: 6)
        #expect(c.status == .warn)
        #expect(c.detail.contains("terminationGracePeriodSeconds 3"))
        #expect(DoctorRules.gracePeriod(deployment: "d", graceSeconds: 60, longestTaskSeconds: 6).status == .ok)
        #expect(DoctorRules.gracePeriod(deployment: "d", graceSeconds: 3, longestTaskSeconds: nil).status == .ok)
        #expect(DoctorRules.gracePeriod(deployment: "d", graceSeconds: nil, longestTaskSeconds: 31).status == .warn)
    }

    @Test func heartbeatsFromWorkersNamedAfterNoPodWarnNamingThem() {
        let deployments = ["celery-batch0", "celery-batch1"]
        #expect(DoctorRules.heartbeatHostnames(unmapped: [], seen: 1, deployments: deployments, listened: true).status == .ok)
        let c = DoctorRules.heartbeatHostnames(unmapped: ["celery@laptop"], seen: 2, deployments: deployments, listened: true)
        #expect(c.status == .warn)
        #expect(c.detail.hasPrefix("celery@laptop maps to no queue's Deployment (celery-batch0, celery-batch1)"))
        #expect(c.fix?.contains("--hostname celery@$(POD_NAME)") == true)
        #expect(DoctorRules.heartbeatHostnames(unmapped: [], seen: 0, deployments: deployments, listened: false).status == .skip)
    }

    @Test("the --hostname argument", arguments: [
        (["celery", "worker", "--hostname", "celery@$(POD_NAME)"], CheckStatus.ok),
        (["celery", "worker"], .ok),
        (["celery", "worker", "-n", "worker1@%h"], .ok),
        (["celery", "worker", "--hostname=celery@fixed"], .warn),
    ] as [([String], CheckStatus)])
    func hostnameArgument(arguments: [String], expected: CheckStatus) {
        #expect(DoctorRules.hostnameArgument(deployment: "d", arguments: arguments).status == expected)
    }

    @Test func autoscalersTargetingTheDeploymentFail() {
        #expect(DoctorRules.autoscalers(deployment: "d", targeting: []).status == .ok)
        let c = DoctorRules.autoscalers(deployment: "d", targeting: ["HorizontalPodAutoscaler/d"])
        #expect(c.status == .fail)
        #expect(c.detail.contains("HorizontalPodAutoscaler/d"))
    }

    @Test func taskRunsAreSeenFromHeartbeatsWithAnUnchangedProcessedCount() {
        var t = TaskRunTracker()
        // One task runs through heartbeats at 0, 2, 4, 6 s; then the next starts (processed 2) and runs 2 s.
        for (time, active, processed) in [(0.0, 1, 1), (2, 1, 1), (4, 1, 1), (6, 1, 1), (8, 1, 2), (10, 1, 2), (12, 0, 2)] {
            t.observe(hostname: "celery@a", active: active, processed: processed, time: time)
        }
        #expect(t.longestSeconds(hostnames: ["celery@a"]) == 6)
        #expect(t.longestSeconds(hostnames: ["celery@b"]) == nil)
        var idle = TaskRunTracker()
        idle.observe(hostname: "celery@a", active: 0, processed: 5, time: 0)
        idle.observe(hostname: "celery@a", active: 0, processed: 5, time: 2)
        #expect(idle.longestSeconds(hostnames: ["celery@a"]) == nil)
    }

    @Test("ready pods should be heard", arguments: [
        (0, 0, 5, CheckStatus.ok), (2, 0, 5, .warn), (2, 2, 5, .ok), (2, 0, 0, .skip),
    ])
    func heartbeatsHeard(ready: Int, heard: Int, listened: Int, expected: CheckStatus) {
        let c = DoctorRules.heartbeatsHeard(deployment: "celery-batch1", readyReplicas: ready, heardFrom: heard, listenedSeconds: listened)
        #expect(c.status == expected, "\(c)")
    }

    @Test func infoFieldsAreReadExactly() {
        let info = "# Memory\r\nused_memory:1024\r\nused_memory_human:1K\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\n"
        #expect(DoctorRules.infoField(info, "used_memory") == "1024")
        #expect(DoctorRules.infoField(info, "maxmemory") == "0")
        #expect(DoctorRules.infoField(info, "maxmemory_policy") == "allkeys-lru")
        #expect(DoctorRules.infoField(info, "aof_enabled") == nil)
    }
}
