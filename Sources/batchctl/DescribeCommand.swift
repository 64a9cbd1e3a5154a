import ArgumentParser
import BatchCore
import BatchctlKit

/// `batchctl describe QUEUE`.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show one queue in detail: spec, reservation, status, conditions and recent events.",
        discussion: """
        Reads the queue's BatchQueue object and its recent events (events.k8s.io/v1, regarding the object: reminders, scaling decisions, orphaned tasks), newest last, as 'kubectl describe' does. Times are in UTC with how long ago or ahead they are.

        Exit status: 0 ok, 1 the cluster could not be read, 2 unknown queue.
        """
    )

    @Argument(help: ArgumentHelp("The queue to describe.", valueName: "queue"), transform: queueName)
    var queue: String

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func run() async throws {
        let service = try await cluster.connect()
        let description = try await QueueDescription.load(queue, service: service)
        print(description.render(now: service.now()), terminator: "")
    }
}
