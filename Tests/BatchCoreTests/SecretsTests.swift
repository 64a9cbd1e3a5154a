import Testing
@testable import BatchCore

@Suite struct SecretsTests {
    struct NoFile: Error, CustomStringConvertible { var description: String { "no such file" } }

    let files = ["/run/secrets/redis": "from-file\n", "/run/secrets/empty": "\n", "/run/secrets/hook": "https://hooks.example/T1\n"]
    func read(_ path: String) throws -> String {
        guard let text = files[path] else { throw NoFile() }
        return text
    }

    @Test func nothingSetMeansNoSecrets() throws {
        #expect(try Secrets.resolve(environment: [:], readFile: read) == Secrets())
    }

    @Test func valuesComeFromVariablesOrFilesWithoutTheTrailingNewline() throws {
        let s = try Secrets.resolve(environment: ["REDIS_PASSWORD_FILE": "/run/secrets/redis", "BATCHCTL_WEBHOOK_URL": "https://hooks.example/x"], readFile: read)
        #expect(s.redisPassword == Secret(value: "from-file", origin: "REDIS_PASSWORD_FILE=/run/secrets/redis"))
        #expect(s.webhookURL == Secret(value: "https://hooks.example/x", origin: "BATCHCTL_WEBHOOK_URL"))
        #expect(s.redisPassword?.description == "*** (from REDIS_PASSWORD_FILE=/run/secrets/redis)")
    }

    @Test func theSentinelPasswordIsSeparateFromTheRedisPassword() throws {
        let s = try Secrets.resolve(environment: ["REDIS_PASSWORD": "master", "REDIS_SENTINEL_PASSWORD_FILE": "/run/secrets/redis"], readFile: read)
        #expect(s.redisPassword?.value == "master")
        #expect(s.sentinelPassword == Secret(value: "from-file", origin: "REDIS_SENTINEL_PASSWORD_FILE=/run/secrets/redis"))
        let yaml = BatchConfig.defaults.renderYAML(secrets: s)
        #expect(yaml.contains("#   sentinel password: *** (from REDIS_SENTINEL_PASSWORD_FILE=/run/secrets/redis)"))
        #expect(!yaml.contains("from-file") && !yaml.contains("master\n"))
    }

    @Test(arguments: [
        (["REDIS_SENTINEL_PASSWORD": "a", "REDIS_SENTINEL_PASSWORD_FILE": "/run/secrets/redis"], "REDIS_SENTINEL_PASSWORD: is set together with REDIS_SENTINEL_PASSWORD_FILE; set only one of them"),
        (["REDIS_PASSWORD": "a", "REDIS_PASSWORD_FILE": "/run/secrets/redis"], "REDIS_PASSWORD: is set together with REDIS_PASSWORD_FILE; set only one of them"),
        (["REDIS_PASSWORD_FILE": "/missing"], "REDIS_PASSWORD_FILE: /missing cannot be read: no such file; mount the secret there or unset REDIS_PASSWORD_FILE"),
        (["REDIS_PASSWORD_FILE": "/run/secrets/empty"], "REDIS_PASSWORD_FILE: /run/secrets/empty is empty"),
        (["BATCHCTL_WEBHOOK_URL": "hooks.example/x"], "BATCHCTL_WEBHOOK_URL: is not an http:// or https:// URL"),
    ])
    func badSecretsNameTheVariable(_ env: [String: String], _ message: String) {
        do {
            _ = try Secrets.resolve(environment: env, readFile: read)
            Issue.record("expected an error")
        } catch {
            #expect(error.problems.map(\.description) == [message])
        }
    }

    @Test func renderedConfigurationShowsWhereSecretsCameFromButNotTheirValues() throws {
        let s = try Secrets.resolve(environment: ["REDIS_PASSWORD": "hunter2", "BATCHCTL_WEBHOOK_URL_FILE": "/run/secrets/hook"], readFile: read)
        let yaml = BatchConfig.defaults.renderYAML(secrets: s)
        #expect(!yaml.contains("hunter2"))
        #expect(!yaml.contains("hooks.example"))
        #expect(yaml.contains("#   redis password: *** (from REDIS_PASSWORD)"))
        #expect(yaml.contains("#   webhook URL:    *** (from BATCHCTL_WEBHOOK_URL_FILE=/run/secrets/hook)"))
    }
}
