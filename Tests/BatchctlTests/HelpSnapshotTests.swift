import BatchTesting
import Testing

/// Help output is part of the product: a change to it shows up here as a diff to review.
@Suite struct HelpSnapshotTests {
    /// The `CLUSTER OPTIONS` section of every command that talks to the cluster (`ClusterOptions`), as the
    /// snapshots below show it; controller and remind have no -v.
    static let clusterOptionsWithoutVerbose = """
        CLUSTER OPTIONS:
          --kubeconfig <file>     The kubeconfig file (default: $KUBECONFIG, else
                                  ~/.kube/config, else the in-cluster service account).
          --context <name>        The kubeconfig context (default: its current-context).
          -n, --namespace <namespace>
                                  The namespace of the BatchQueues (default: the
                                  context's; for controller and remind, the
                                  configuration's namespace).
        """
    static let clusterOptions = clusterOptionsWithoutVerbose + "\n" + """
          -v, --verbose           Print each step (identity, reads, writes with their
                                  resourceVersion) on standard error.
        """

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

            Cluster options (--kubeconfig, --context, -n/--namespace, --config, -v) go
            before or after the subcommand, as in kubectl: 'batchctl -n court-listener
            status' is 'batchctl status -n court-listener'. Linked as kubectl-batchctl on
            PATH, batchctl is the kubectl plugin 'kubectl batchctl'.

            Exit status: 0 ok, 1 runtime failure, 2 bad usage or input, 3 conflict (held by
            someone else), 4 forbidden.

            USAGE: batchctl <subcommand>

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:
              status                  Show who holds each queue, how much work it has and
                                      how many workers run.
              claim                   Reserve a batch queue for yourself, or update your
                                      reservation.
              scale                   Change the most workers your reservation may run.
              extend                  Hold your reservation longer.
              release                 Give a queue back, so its workers go to zero.
              drain                   Wait until a queue's work is done, with a progress
                                      bar; optionally release it then.
              history                 Show what the last claims of a queue used.
              describe                Show one queue in detail: spec, reservation, status,
                                      conditions and recent events.
              doctor                  Check Redis, the worker Deployments and your access
                                      for the misconfigurations that lose tasks.
              remind                  Print a digest of who holds which queue and post it
                                      to the webhook.
              controller              Run the controller: scale the batch Deployments from
                                      queue depth and reservations.
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
            status 2. The file is the controller's own configuration: the rules users are
            held to live in the cluster, in the namespace's BatchQueuePolicy, and a key
            that moved there is refused with where it went.

            A file holding a BatchQueuePolicy (kind: BatchQueuePolicy) is checked as one,
            offline, with the same rules the controller applies to it.

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

            Reads, in one pipelined round trip, the depth of every queue (--queue, else
            batch0 to batch3) (the sum of LLEN over its priority lists), its in-flight
            tasks (entries of kombu's 'unacked' hash routed to it) and Redis memory, and
            listens to Celery worker heartbeats for --listen to list the workers and how
            many tasks each is running. Nothing is written to Redis.

            busyWorkers counts workers with active tasks whose pod belongs to the queue's
            Deployment, by the controller's rule: the worker's hostname is celery@<pod
            name>, and the Deployment's spec.selector.matchLabels selects that pod. When
            workers were heard, the Deployments and pods are read from the cluster (the
            cluster options; the namespace is -n, else the context's, as for every cluster
            command); if they cannot be read, a busy count that depends on them is unknown
            (-) and a warning says why.

            The Redis password comes from REDIS_PASSWORD or REDIS_PASSWORD_FILE, or from
            the URL.

            Behind Redis Sentinel, give the sentinels as Celery's broker_url lists them
            (sentinel://s1:26379;sentinel://s2:26379) and the master name (Celery's
            broker_transport_options master_name) with --master-name or redis.masterName;
            the sentinels' own password comes from REDIS_SENTINEL_PASSWORD or
            REDIS_SENTINEL_PASSWORD_FILE. The report names the master read and the sentinel
            that named it.

            Exit status: 0 ok, 1 Redis unreachable or a queue unreadable (the report is
            still printed), 2 bad flags or configuration.

            USAGE: batchctl probe <options>

            \#(Self.clusterOptions)

            OPTIONS:
              --config <file>         The configuration file (default: $BATCHCTL_CONFIG,
                                      else the embedded defaults).
              --redis-url <url>       The broker URL, overriding redis.url:
                                      redis://[user:password@]host:port/db,
                                      unix:///path.sock, or
                                      sentinel://host:26379;sentinel://host2:26379.
              --master-name <name>    The Sentinel master name, overriding redis.masterName
                                      (Celery's broker_transport_options master_name).
              -o, --output <output>   Output format. (values: table, json; default: table)
              --listen <duration>     How long to listen for worker heartbeats (0s to
                                      skip). (default: 2500ms)
              --queue <queue>         A queue to probe, as name or name=deployment
                                      (repeatable; default batch0 to batch3, the queues
                                      deploy/base installs; the controller probes the
                                      BatchQueues it sees).
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

            Every poll interval the leader reads the BatchQueues (every one it sees is a
            queue: added or removed at run time, no restart), the namespace's
            BatchQueuePolicy named default (the rules: bands, durations, budget, ramp, idle
            time, reminders; the embedded defaults and a PolicyDefaults condition when
            there is none), the worker Deployments and their pods (from watches), clamps a
            reservation outside the policy (expiry past claimedAt + maxDuration, claimedAt
            in the future, replicas above the cap) in one write with a Warning Event, reads
            each queue's depth, in-flight tasks and busy workers from Redis in one round
            trip, decides, and writes only what differs: /scale, BatchQueue status, Events.
            Replicas are never lowered on missing data, nor below the number of workers
            running tasks.

            With guards in the BatchQueuePolicy (spec.guards: PromQL expressions that
            return a result while a service is healthy) it queries the Prometheus at
            prometheus.url once per guard per pass, while a queue is claimed: a claimed
            queue steps up only while every guard is healthy, holds while one fails or
            cannot be read (condition Guarded, reminders GuardTripped and GuardRecovered),
            and gives back one replica after each rampUp.stepBackAfter of failing. The
            bearer token comes from the file prometheus.tokenFile.

            Run two replicas: they elect a leader with a Lease (15 s / 10 s / 2 s by
            default, as client-go); on SIGTERM the leader releases it so the other takes
            over at once. Metrics and health are served on --metrics-addr: /metrics,
            /healthz, /readyz.

            The namespace is -n, else the configuration's namespace. The Redis password
            comes from REDIS_PASSWORD or REDIS_PASSWORD_FILE (or the --redis-url). Behind
            Redis Sentinel (redis.url sentinel://...;sentinel://... and redis.masterName,
            as in Celery's broker settings) it reads the master the sentinels name and
            follows it through a failover, holding replicas while the master is unknown;
            the sentinels' own password comes from REDIS_SENTINEL_PASSWORD or
            REDIS_SENTINEL_PASSWORD_FILE.

            Reminders (expiring soon, expired, sleeping, idle, orphaned tasks, Redis memory
            high) become Events on the BatchQueue and log lines, and are posted to the
            webhook in BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE when one is set
            (webhook.format, webhook.timeout, webhook.retries); a failing webhook never
            delays a pass. What was sent is recorded in status.reminders, so a restart or a
            new leader repeats none.

            USAGE: batchctl controller <options>

            \(Self.clusterOptionsWithoutVerbose)

            OPTIONS:
              --config <file>         The configuration file (default: $BATCHCTL_CONFIG,
                                      else the embedded defaults).
              --redis-url <url>       The Redis URL, overriding redis.url (a Celery
                                      sentinel://host:26379;sentinel://host2:26379 list for
                                      Redis behind Sentinel).
              --master-name <name>    The Sentinel master name, overriding redis.masterName
                                      (Celery's broker_transport_options master_name).
              --metrics-addr <host:port>
                                      Where to serve /metrics, /healthz and /readyz.
                                      (default: 0.0.0.0:9090)
              --leader-elect/--no-leader-elect
                                      Elect a leader with a Lease, so several replicas can
                                      run. (default: --leader-elect)
              --lease-name <name>     The leader Lease's name. (default:
                                      batchctl-controller)
              --leader-elect-lease-duration <duration>
                                      How long a standby waits after the leader's last
                                      renewal before taking over. (default: 15s)
              --leader-elect-renew-deadline <duration>
                                      How long the leader keeps leading without a
                                      successful renewal. (default: 10s)
              --leader-elect-retry-period <duration>
                                      How often the Lease is renewed, or tried by a
                                      standby. (default: 2s)
              -v, --verbose           Log each pass at debug level.
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func statusHelp() throws {
        #expect(try help(["status", "--help"]) == """
            OVERVIEW: Show who holds each queue, how much work it has and how many workers
            run.

            One row per queue: holder, reason, expiry (UTC and relative), depth (queued
            tasks), in-flight tasks, ready/desired workers and phase, as the controller
            last reported them in the BatchQueue objects. -o wide adds when it was claimed,
            busy workers, stranded tasks (held by a worker that died) with their redelivery
            time, the approved band, maxReplicas and the replica-hours the current claim
            used (USED; 'batchctl history' for earlier claims).

            On a terminal, depth is coloured in the team's terms (by default under 100
            green, under 500 plain, from 500 yellow, 1,000 and more red: the
            BatchQueuePolicy's queueDepth); NO_COLOR turns colours off, and piped output
            never has them. --watch redraws the table in place on every change; piped, it
            appends a new table instead.

            -o json and -o yaml print the BatchQueue objects themselves as a BatchQueueList
            ({"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueueList", "items":
            [...]}), for scripts.

            Exit status: 0 ok, 1 the cluster could not be read, 2 bad input (such as an
            unknown queue).

            USAGE: batchctl status [<queue> ...] [--output <output>] [--watch] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 Queues to show (default: all).

            \(Self.clusterOptions)

            OPTIONS:
              -o, --output <output>   Output format. (values: table, wide, json, yaml;
                                      default: table)
              --watch                 Keep running and show every change.
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func claimHelp() throws {
        #expect(try help(["claim", "--help"]) == """
            OVERVIEW: Reserve a batch queue for yourself, or update your reservation.

            Records you as the queue's holder in its BatchQueue object. The holder is the
            user the API server authenticates (SelfSubjectReview); if the cluster lacks
            that API, the kubeconfig user, with a warning. A free or expired queue becomes
            yours; a queue you already hold is updated (flags you leave out keep their
            values); a queue someone else holds is refused with exit status 3, naming the
            holder. With --any, batchctl claims the first free queue in the cluster's order
            (spec.claimOrder of the namespace's BatchQueuePolicy, then by name).

            The claim is one conditional write carrying the resourceVersion batchctl read,
            so two people can never both get a queue: the loser re-reads it and is told who
            won. The controller then scales the queue's workers, up to --replicas, while
            the queue has work.

            The rules are the cluster's: the namespace's BatchQueuePolicy named default
            (kubectl get bqp), read at every run, and enforced by the API server too; no
            configuration file is needed. By default the replica bands are 1-5 small, 6-10
            medium, 11-20 big (needs --approve-band big: check the database and the
            services your tasks use can take it); never above the queue's maxReplicas. The
            reservation lasts --for (default the policy's reservations.defaultDuration, at
            most its reservations.maxDuration from when it was claimed); extend it with
            'batchctl extend'.

            Exit status: 0 claimed or updated, 2 bad input (unknown queue, duration,
            replicas, band), 3 held by someone else (or no queue free), 4 forbidden.

            USAGE: batchctl claim [<queue>] [--any] [--for <duration>] [--replicas <n>] [--reason <text>] [--approve-band <band>] [--release-when-done] [--no-release-when-done] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue to claim, such as batch1.

            \(Self.clusterOptions)

            OPTIONS:
              --any                   Claim the first free queue instead of a named one.
              --for <duration>        How long to hold it, such as 3d or 12h (default:
                                      reservations.defaultDuration for a new claim; an
                                      update keeps the expiry unless given).
              --replicas <n>          The most workers the controller may run for you
                                      (default: 5 for a new claim, else unchanged).
              --reason <text>         What the queue is used for, shown to everyone in
                                      'batchctl status' and 'kubectl get bq'.
              --approve-band <band>   Approve a band that needs it: 'big' for 11-20
                                      replicas.
              --release-when-done/--no-release-when-done
                                      Let the controller release the claim once the queue
                                      has drained and stayed idle for idleAfter (default:
                                      off for a new claim, else unchanged).
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func scaleHelp() throws {
        #expect(try help(["scale", "--help"]) == """
            OVERVIEW: Change the most workers your reservation may run.

            Sets the replica ceiling of your reservation: the controller ramps the queue's
            workers up to it, step by step, while the queue has work, and never above it.
            Only the holder may scale. The same checks as 'batchctl claim' apply: 11-20
            replicas need --approve-band big, and nothing goes above the queue's
            maxReplicas.

            Exit status: 0 ok, 2 bad input or the queue is not reserved, 3 held by someone
            else, 4 forbidden.

            USAGE: batchctl scale <queue> <replicas> [--approve-band <band>] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue you hold.
              <replicas>              The new replica ceiling.

            \(Self.clusterOptions)

            OPTIONS:
              --approve-band <band>   Approve a band that needs it: 'big' for 11-20
                                      replicas.
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func extendHelp() throws {
        #expect(try help(["extend", "--help"]) == """
            OVERVIEW: Hold your reservation longer.

            Moves your reservation's expiry later by --for, counted from the current expiry
            (or from now, if it has passed). Only the holder may extend, and the whole
            reservation may not last longer than the BatchQueuePolicy's
            reservations.maxDuration from when it was claimed; the message says how much
            room is left.

            Exit status: 0 ok, 2 bad input or the queue is not reserved, 3 held by someone
            else, 4 forbidden.

            USAGE: batchctl extend <queue> --for <duration> [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue you hold.

            \(Self.clusterOptions)

            OPTIONS:
              --for <duration>        How much longer, such as 1d or 6h.
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func releaseHelp() throws {
        #expect(try help(["release", "--help"]) == """
            OVERVIEW: Give a queue back, so its workers go to zero.

            Removes the reservation from the queue's BatchQueue object; the controller then
            lets busy workers finish and scales the Deployment to zero. Only the holder may
            release. An admin (group batchctl:admins) may release someone else's claim with
            --force; whether you are one is for the API server to decide, and a refusal
            exits with status 4.

            Exit status: 0 released (or already free), 2 bad input, 3 held by someone else
            (without --force), 4 forbidden.

            USAGE: batchctl release <queue> [--force] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue to release.

            \(Self.clusterOptions)

            OPTIONS:
              --force                 Release someone else's claim (admins only).
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func drainHelp() throws {
        #expect(try help(["drain", "--help"]) == """
            OVERVIEW: Wait until a queue's work is done, with a progress bar; optionally
            release it then.

            Waits until the queue's depth, in-flight tasks and busy workers are all zero,
            as the controller reports them in the BatchQueue's status, and have stayed so
            for 5 s (workers report running tasks in heartbeats every 2 s, so an empty
            reading can come early): only read access to the BatchQueue is needed, not
            Redis.

            On a terminal a progress bar is redrawn in place: tasks completed since the
            drain started out of completed plus remaining (queued and in flight), the rate
            per minute, the ETA and the workers running. Piped, one line per change; -o
            json, one JSON object per change (queue, done, remaining, total, busyWorkers,
            workers, ratePerMinute, etaSeconds, drained).

            --release releases your claim once drained and prints what it used. Ctrl-C
            stops waiting and leaves the claim as it was. To have the controller release it
            for you instead, claim with --release-when-done.

            Exit status: 0 drained (and released, with --release), 1 timed out (the claim
            is kept) or the cluster could not be read, 2 bad input, 3 held by someone else
            (--release), 4 forbidden.

            USAGE: batchctl drain <queue> [--release] [--timeout <duration>] [--output <output>] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue to wait for.

            \(Self.clusterOptions)

            OPTIONS:
              --release               Release your claim once the queue is drained.
              --timeout <duration>    Give up after this long (exit status 1), such as 30m
                                      (default: wait as long as it takes).
              -o, --output <output>   Output format: text (a bar on a terminal, lines when
                                      piped) or json (one object per change). (values:
                                      text, json; default: text)
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func historyHelp() throws {
        #expect(try help(["history", "--help"]) == """
            OVERVIEW: Show what the last claims of a queue used.

            One row per claim, oldest first, the current one last: holder, when claimed and
            ended and how (Released, Expired, WorkDone: released by the controller after
            --release-when-done, Replaced), replica-hours (and how many of them idle), peak
            replicas and tasks completed. The controller keeps the last 20 claims in the
            BatchQueue's status (status.usage), so the history survives restarts; replica
            time is counted from the worker pods' start, tasks from the workers'
            heartbeats.

            -o json prints one object with the queue and its claims.

            Exit status: 0 ok, 1 the cluster could not be read, 2 bad input (such as an
            unknown queue).

            USAGE: batchctl history <queue> [--output <output>] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue.

            \(Self.clusterOptions)

            OPTIONS:
              -o, --output <output>   Output format. (values: table, json; default: table)
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func describeHelp() throws {
        #expect(try help(["describe", "--help"]) == """
            OVERVIEW: Show one queue in detail: spec, reservation, status, conditions and
            recent events.

            Reads the queue's BatchQueue object and its recent events (events.k8s.io/v1,
            regarding the object: reminders, scaling decisions, orphaned tasks), newest
            last, as 'kubectl describe' does. Times are in UTC with how long ago or ahead
            they are.

            Exit status: 0 ok, 1 the cluster could not be read, 2 unknown queue.

            USAGE: batchctl describe <queue> [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 The queue to describe.

            \(Self.clusterOptions)

            OPTIONS:
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

            \(Self.clusterOptionsWithoutVerbose)

            OPTIONS:
              --dry-run               Print the digest but do not post it to the webhook.
              --config <file>         The configuration file (default: $BATCHCTL_CONFIG,
                                      else the embedded defaults).
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func doctorHelp() throws {
        #expect(try help(["doctor", "--help"]) == """
            OVERVIEW: Check Redis, the worker Deployments and your access for the
            misconfigurations that lose tasks.

            Read-only checks, each ok, warn, fail or skip, with the fix in one line.

            Redis: maxmemory-policy is noeviction (any other policy lets a full Redis drop
            queued tasks silently), memory headroom against maxmemory, persistence
            (appendonly or RDB save rules).

            Workers, for each queue (default: all): its Deployment exists; the -Q of its
            celery command names the BatchQueue's spec.queue; its --hostname names the pod;
            its ready pods send heartbeats; terminationGracePeriodSeconds is longer than
            the longest task seen running; no HorizontalPodAutoscaler or KEDA ScaledObject
            targets it. Workers whose heartbeats name no pod of a queue's Deployment (not
            celery@$(POD_NAME)) are named.

            You: whether you may get, list, watch, update and patch BatchQueues
            (SelfSubjectAccessReview; skipped where the server lacks it).

            It listens to worker heartbeats for --listen (a task's running time is seen
            from heartbeats only: give it longer than a few heartbeat intervals).

            Exit status: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad input
            (such as an unknown queue).

            USAGE: batchctl doctor [<queue> ...] [--output <output>] [--listen <duration>] [--config <file>] [--redis-url <url>] [--kubeconfig <file>] [--context <name>] [--namespace <namespace>] [--verbose]

            ARGUMENTS:
              <queue>                 Queues to check (default: all).

            \(Self.clusterOptions)

            OPTIONS:
              -o, --output <output>   Output format. (values: table, json; default: table)
              --listen <duration>     How long to listen for worker heartbeats (0s to
                                      skip). (default: 5s)
              --config <file>         The configuration file, for Redis and the Celery
                                      layout (default: $BATCHCTL_CONFIG, else the embedded
                                      defaults).
              --redis-url <url>       The broker URL, overriding redis.url (as for
                                      'batchctl probe').
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func helpSubcommandMatchesTheFlag() throws {
        #expect(try help(["help", "config", "validate"]) == help(["config", "validate", "--help"]))
    }
}
