import BatchTesting
import Testing

/// Help output is part of the product: a change to it shows up here as a diff to review.
@Suite struct HelpSnapshotTests {
    func help(_ args: [String]) throws -> String {
        let r = try Command.run(ProjectPaths.product("batchctl"), args, environment: ["COLUMNS": "80"])
        #expect(r.status == 0)
        return r.stdout
    }

    @Test func rootHelp() throws {
        #expect(try help(["--help"]) == """
            OVERVIEW: Claim, scale and release Celery batch queues on Kubernetes.

            batchctl replaces the batch-queue spreadsheet and the manual 'kubectl scale': a
            controller scales each queue's worker Deployment within safe replica bands
            while the queue has work and its reservation holds, and back to zero when it is
            idle, released or expired.

            Exit status: 0 ok, 1 runtime failure, 2 bad usage or input, 3 conflict (held by
            someone else), 4 forbidden.

            USAGE: batchctl <subcommand>

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:
              controller              Run the controller: scale the batch Deployments from
                                      queue depth and reservations.
              remind                  Print a digest of who holds which queue and post it
                                      to the webhook.
              probe                   Show each queue's depth, in-flight tasks and busy
                                      workers, read directly from Redis.
              config                  Check batchctl's configuration.

              See 'batchctl help <subcommand>' for detailed help.

            """)
    }

    @Test func configValidateHelp() throws {
        #expect(try help(["config", "validate", "--help"]) == """
            OVERVIEW: Validate a configuration file and print the effective configuration.

            Reads FILE (or $BATCHCTL_CONFIG, or the embedded defaults when neither is
            given), checks every key, and prints the configuration batchctl would run with,
            secrets masked. Keys left out keep their defaults. On a problem it prints one
            line per problem, naming the key path, the value and the rule, and exits with
            status 2.

            Secrets are read from the environment, never from the file: REDIS_PASSWORD or
            REDIS_PASSWORD_FILE, and BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE.

            USAGE: batchctl config validate [<file>]

            ARGUMENTS:
              <file>                  The YAML file to check.

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func probeHelp() throws {
        #expect(try help(["probe", "--help"]) == #"""
            OVERVIEW: Show each queue's depth, in-flight tasks and busy workers, read
            directly from Redis.

            Reads, in one pipelined round trip, the depth of every configured queue (the
            sum of LLEN over its priority lists), its in-flight tasks (entries of kombu's
            'unacked' hash routed to it) and Redis memory, and listens to Celery worker
            heartbeats for --listen to list the workers and how many tasks each is running.
            Nothing is written to Redis.

            busyWorkers counts workers with active tasks whose pod belongs to the queue's
            Deployment: hostname celery@<deployment>-<replicaset-hash>-<suffix>.

            The Redis password comes from REDIS_PASSWORD or REDIS_PASSWORD_FILE, or from
            the URL.

            Exit status: 0 ok, 1 Redis unreachable or a queue unreadable (the report is
            still printed), 2 bad flags or configuration.

            USAGE: batchctl probe [--config <file>] [--redis-url <url>] [--output <output>] [--listen <duration>] [--celery-global-keyprefix <prefix>] [--celery-sep <sep>] [--celery-priority-steps <steps>]

            OPTIONS:
              --config <file>         The configuration file (default: $BATCHCTL_CONFIG,
                                      else the embedded defaults).
              --redis-url <url>       The broker URL, overriding redis.url:
                                      redis://[user:password@]host:port/db or
                                      unix:///path.sock.
              -o, --output <output>   Output format. (values: table, json; default: table)
              --listen <duration>     How long to listen for worker heartbeats (0s to
                                      skip). (default: 2500ms)
              --celery-global-keyprefix <prefix>
                                      Celery's global_keyprefix, overriding
                                      celery.globalKeyPrefix.
              --celery-sep <sep>      Celery's sep, overriding celery.separator; \xHH
                                      escapes allowed (default \x06\x16).
              --celery-priority-steps <steps>
                                      Celery's priority_steps, comma-separated, overriding
                                      celery.prioritySteps (default 0,3,6,9).
              --version               Show the version.
              -h, --help              Show help information.


            """#)
    }

    @Test func controllerHelp() throws {
        #expect(try help(["controller", "--help"]) == """
            OVERVIEW: Run the controller: scale the batch Deployments from queue depth and
            reservations.

            Every poll interval the leader reads the BatchQueues, the worker Deployments
            and their pods (from watches), reads each queue's depth, in-flight tasks and
            busy workers from Redis in one round trip, decides, and writes only what
            differs: /scale, BatchQueue status, Events. Replicas are never lowered on
            missing data, nor below the number of workers running tasks.

            Run two replicas: they elect a leader with a Lease (15 s / 10 s / 2 s, as
            client-go); on SIGTERM the leader releases it so the other takes over at once.
            Metrics and health are served on --metrics-addr: /metrics, /healthz, /readyz.

            The namespace is -n, else the configuration's namespace. The Redis password
            comes from REDIS_PASSWORD or REDIS_PASSWORD_FILE (or the --redis-url).

            Reminders (expiring soon, expired, sleeping, idle, orphaned tasks, Redis memory
            high) become Events on the BatchQueue and log lines, and are posted to the
            webhook in BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE when one is set
            (webhook.format, webhook.timeout, webhook.retries); a failing webhook never
            delays a pass. What was sent is recorded in status.reminders, so a restart or a
            new leader repeats none.

            USAGE: batchctl controller [--config <file>] [--redis-url <url>] [--metrics-addr <host:port>] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--leader-elect] [--no-leader-elect] [--lease-name <name>] [--verbose]

            OPTIONS:
              --config <file>         The configuration file (default: $BATCHCTL_CONFIG,
                                      else the embedded defaults).
              --redis-url <url>       The Redis URL, overriding redis.url.
              --metrics-addr <host:port>
                                      Where to serve /metrics, /healthz and /readyz.
                                      (default: 0.0.0.0:9090)
              --kubeconfig <file>     The kubeconfig file (default: $KUBECONFIG,
                                      ~/.kube/config, or the pod's service account).
              --context <name>        The kubeconfig context.
              -n, --namespace <namespace>
                                      The namespace of the BatchQueues and worker
                                      Deployments (default: the configuration's).
              --leader-elect/--no-leader-elect
                                      Elect a leader with a Lease, so several replicas can
                                      run. (default: --leader-elect)
              --lease-name <name>     The leader Lease's name. (default:
                                      batchctl-controller)
              -v, --verbose           Log each pass at debug level.
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func remindHelp() throws {
        #expect(try help(["remind", "--help"]) == """
            OVERVIEW: Print a digest of who holds which queue and post it to the webhook.

            Reads the BatchQueues and prints one line per queue: the holder, since when and
            until when (UTC and relative), how long it has been idle, replicas and queue
            depth (as the controller last recorded them), and the next command where one is
            due ('batchctl extend', 'batchctl release', 'batchctl claim'). Unless --dry-run
            is given, the digest is also posted to the webhook from BATCHCTL_WEBHOOK_URL or
            BATCHCTL_WEBHOOK_URL_FILE, with the configuration's webhook format, timeout and
            retries; without a webhook it is only printed.

            The per-event reminders (expiring soon, expired, sleeping, idle, orphaned
            tasks, Redis memory) are sent by the controller; this digest is for a CronJob
            (deploy/base/remind-cronjob.yaml) or a person. Exit status: 0 printed (and
            posted), 1 the cluster could not be read or the webhook failed after its
            retries, 2 bad usage or configuration.

            USAGE: batchctl remind [--dry-run] [--config <file>] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>]

            OPTIONS:
              --dry-run               Print the digest but do not post it to the webhook.
              --config <file>         The configuration file (default: $BATCHCTL_CONFIG,
                                      else the embedded defaults).
              --kubeconfig <file>     The kubeconfig file (default: $KUBECONFIG,
                                      ~/.kube/config, or the pod's service account).
              --context <name>        The kubeconfig context.
              -n, --namespace <namespace>
                                      The namespace of the BatchQueues (default: the
                                      configuration's).
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func helpSubcommandMatchesTheFlag() throws {
        #expect(try help(["help", "config", "validate"]) == help(["config", "validate", "--help"]))
    }
}
