import Foundation
import Lamina
import Logging
import ServiceLifecycle
import Testing
@testable import LaminaServe

/// Model version directories as TensorFlow Serving lays them out (`base/1/model.lamina`,
/// `base/2/...`), written by the tests: version v of a model `y = w·x + b` (one number in, one
/// out), so each answer says which version gave it.
struct VersionedModels {
    let base: URL

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-versions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: base) }

    /// `y = w·x + b` as a model file.
    static func write(w: Float, b: Float, to file: URL) throws {
        let model = Sequential([Input(shape: [1]), Dense(1)])
        try model.setWeights([Tensor(shape: [1, 1], scalars: [w]), Tensor(shape: [1], scalars: [b])])
        try model.save(file.path)
    }

    /// The slope and intercept of version `v`: y = v·x + 10·v.
    static func answer(version v: Int, x: Float) -> Float { Float(v) * x + 10 * Float(v) }

    /// Adds version `v` as TF Serving recommends: written elsewhere, then moved into the base
    /// directory in one rename, so the poller never sees half a version.
    func add(_ v: Int) throws {
        let staging = base.deletingLastPathComponent().appendingPathComponent("staging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        try Self.write(w: Float(v), b: 10 * Float(v), to: staging.appendingPathComponent("model.lamina"))
        try FileManager.default.moveItem(at: staging, to: base.appendingPathComponent(String(v)))
    }

    /// A version directory whose model file is not a model.
    func addBroken(_ v: Int) throws {
        let directory = base.appendingPathComponent(String(v))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("not a model".utf8).write(to: directory.appendingPathComponent("model.lamina"))
    }
}

/// Starts a server over model configurations (their versions loaded before it listens).
func startServer(_ configs: [ModelConfig], pollWait: Duration? = .milliseconds(50), labels: [String: Int] = [:],
                 maxBatch: Int = 8) async throws -> RunningServer {
    let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    let server = try ModelServer(configs: configs, configuration: .init(port: 0, maxBatch: maxBatch, batchTimeout: .milliseconds(1),
                                                                         versionLabels: labels, fileSystemPollWait: pollWait), logger: quiet)
    return try await RunningServer.start(server)
}

extension RunningServer {
    /// The single number a one-number model answers for `x` at `path` (…:predict), or the status
    /// and error message.
    func answer(_ path: String, x: Float) async throws -> Result<Float, RequestError> {
        let (status, data) = try await request(path, method: "POST", body: Data("{\"instances\": [[\(x)]]}".utf8))
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        guard status == 200 else { return .failure(RequestError(status, object["error"] as? String ?? String(decoding: data, as: UTF8.self))) }
        let values = flatFloats(object["predictions"])
        guard values.count == 1 else { return .failure(RequestError(-1, "not one prediction: \(String(decoding: data, as: UTF8.self))")) }
        return .success(values[0])
    }

    /// Status code and `{"error": ...}` message of a request.
    func error(_ path: String, method: String = "GET", body: String? = nil) async throws -> (Int, String) {
        let (status, data) = try await request(path, method: method, body: body.map { Data($0.utf8) })
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        return (status, object?["error"] as? String ?? "<no error body: \(String(decoding: data, as: UTF8.self).prefix(200))>")
    }

    /// `GET /v1/models/NAME`'s versions: version → (state, error message).
    func versions(_ name: String) async throws -> [Int: (String, String)] {
        let (_, data) = try await request("/v1/models/\(name)")
        let list = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["model_version_status"] as? [[String: Any]] ?? []
        var found: [Int: (String, String)] = [:]
        for item in list {
            let status = item["status"] as? [String: Any]
            found[Int(item["version"] as? String ?? "") ?? -1] = (item["state"] as? String ?? "?", status?["error_message"] as? String ?? "")
        }
        return found
    }

    /// Waits (up to `seconds`) until `condition` holds; whether it did.
    func waitUntil(seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }
}

@Suite(.serialized) struct ModelVersionTests {
    /// Several models by name, each answering with its own weights; an unknown model is TF
    /// Serving's 404.
    @Test func severalModelsByName() async throws {
        let models = try VersionedModels()
        defer { models.remove() }
        let a = models.base.appendingPathComponent("a.lamina"), b = models.base.appendingPathComponent("b.lamina")
        try VersionedModels.write(w: 2, b: 1, to: a)
        try VersionedModels.write(w: -3, b: 0.5, to: b)
        let running = try await startServer([ModelConfig(name: "alpha", basePath: a.path), ModelConfig(name: "beta", basePath: b.path)])
        #expect(try await running.answer("/v1/models/alpha:predict", x: 4).get() == 9)
        #expect(try await running.answer("/v1/models/beta:predict", x: 4).get() == -11.5)
        #expect(try await running.answer("/v1/models/beta/versions/1:predict", x: 2).get() == -5.5)
        #expect(try await running.versions("alpha")[1]?.0 == "AVAILABLE")
        let (status, message) = try await running.error("/v1/models/gamma:predict", method: "POST", body: "{\"instances\": [[1.0]]}")
        #expect(status == 404 && message.hasPrefix("Servable not found for request: Latest(gamma)"), "\(status) \(message)")
        let (statusCode, statusMessage) = try await running.error("/v1/models/gamma")
        #expect(statusCode == 404 && statusMessage.hasPrefix("Could not find any versions of model gamma"), "\(statusCode) \(statusMessage)")
        try await running.stop()
    }

    /// A base directory of versions: the latest by default, each version and label by path
    /// under the `all` policy, TF Serving's errors for versions and labels it does not have.
    @Test func versionDirectoriesPathsAndLabels() async throws {
        let models = try VersionedModels()
        defer { models.remove() }
        for v in [1, 2, 5] { try models.add(v) }
        try FileManager.default.createDirectory(at: models.base.appendingPathComponent("notes"), withIntermediateDirectories: true)   // not a number: ignored

        // Policy latest(1): only version 5 is loaded.
        let latest = try await startServer([ModelConfig(name: "m", basePath: models.base.path)], pollWait: nil)
        #expect(try await latest.answer("/v1/models/m:predict", x: 1).get() == VersionedModels.answer(version: 5, x: 1))
        #expect(try await latest.answer("/v1/models/m/versions/5:predict", x: 2).get() == VersionedModels.answer(version: 5, x: 2))
        let (code, message) = try await latest.error("/v1/models/m/versions/2:predict", method: "POST", body: "{\"instances\": [[1.0]]}")
        #expect(code == 404 && message.hasPrefix("Servable not found for request: Specific(m, 2)"), "\(code) \(message)")
        #expect(try await latest.versions("m").mapValues(\.0) == [5: "AVAILABLE"])
        try await latest.stop()

        // Policy all, and labels from the config and from the flags.
        let all = try await startServer([ModelConfig(name: "m", basePath: models.base.path, policy: .all, labels: ["stable": 1, "canary": 5])],
                                        pollWait: nil, labels: ["old": 2, "stable": 2])
        for v in [1, 2, 5] {
            #expect(try await all.answer("/v1/models/m/versions/\(v):predict", x: 3).get() == VersionedModels.answer(version: v, x: 3))
        }
        #expect(try await all.answer("/v1/models/m:predict", x: 3).get() == VersionedModels.answer(version: 5, x: 3))
        #expect(try await all.answer("/v1/models/m/labels/stable:predict", x: 3).get() == VersionedModels.answer(version: 1, x: 3), "the model's own label wins")
        #expect(try await all.answer("/v1/models/m/labels/canary:predict", x: 3).get() == VersionedModels.answer(version: 5, x: 3))
        #expect(try await all.answer("/v1/models/m/labels/old:predict", x: 3).get() == VersionedModels.answer(version: 2, x: 3))
        #expect(try await all.versions("m").mapValues(\.0) == [1: "AVAILABLE", 2: "AVAILABLE", 5: "AVAILABLE"])
        let (statusData, statusBody) = try await all.request("/v1/models/m")
        let order = ((try? JSONSerialization.jsonObject(with: statusBody)) as? [String: Any])?["model_version_status"] as? [[String: Any]]
        #expect(statusData == 200 && order?.compactMap { $0["version"] as? String } == ["5", "2", "1"], "newest first, as TF Serving lists them")
        let (one, oneBody) = try await all.request("/v1/models/m/versions/2")
        #expect(one == 200 && String(decoding: oneBody, as: UTF8.self).contains("\"version\":\"2\""))
        let (meta, metaBody) = try await all.request("/v1/models/m/labels/stable/metadata")
        #expect(meta == 200 && String(decoding: metaBody, as: UTF8.self).contains("\"version\":\"1\""))

        let errors: [(String, String, Int, String)] = [
            ("POST", "/v1/models/m/versions/3:predict", 404, "Servable not found for request: Specific(m, 3)"),
            ("GET", "/v1/models/m/versions/3/metadata", 404, "Servable not found for request: Specific(m, 3)"),
            ("GET", "/v1/models/m/versions/3", 404, "Could not find version 3 of model m"),
            ("POST", "/v1/models/m/labels/beta:predict", 400, "Unrecognized servable version label: beta"),
            ("GET", "/v1/models/m/labels/beta", 400, "Unrecognized servable version label: beta"),
            ("POST", "/v1/models/m/versions/-1:predict", 400, "the version in the path must be a number"),
            ("POST", "/v1/models/other/versions/1:predict", 404, "Servable not found for request: Latest(other)"),
        ]
        for (method, path, status, text) in errors {
            let (got, message) = try await all.error(path, method: method, body: method == "POST" ? "{\"instances\": [[1.0]]}" : nil)
            #expect(got == status && message.hasPrefix(text), "\(method) \(path): \(got) \(message)")
        }
        try await all.stop()
    }

    /// A version dropped into the base directory is served within a few poll intervals while a
    /// stream of requests goes on with no error; the old version is unloaded (END) once the new
    /// one is AVAILABLE; removing the new version's directory brings the old one back.
    @Test func newVersionIsPickedUpWithoutErrors() async throws {
        let models = try VersionedModels()
        defer { models.remove() }
        try models.add(1)
        let running = try await startServer([ModelConfig(name: "m", basePath: models.base.path)], pollWait: .milliseconds(50))
        let stop = Locked(false)
        // Four clients send requests back to back until told to stop, counting answers by version.
        let stream = Task {
            try await withThrowingTaskGroup(of: (ones: Int, twos: Int, errors: [String]).self) { group in
                for client in 0..<4 {
                    group.addTask {
                        var counts = (ones: 0, twos: 0, errors: [String]())
                        while !stop.withLock({ $0 }) {
                            let x = Float(client + 1)
                            switch try await running.answer("/v1/models/m:predict", x: x) {
                            case .success(VersionedModels.answer(version: 1, x: x)): counts.ones += 1
                            case .success(VersionedModels.answer(version: 2, x: x)): counts.twos += 1
                            case .success(let other): counts.errors.append("unexpected answer \(other)")
                            case .failure(let error): counts.errors.append("\(error)")
                            }
                        }
                        return counts
                    }
                }
                return try await group.reduce(into: (ones: 0, twos: 0, errors: [String]())) { total, counts in
                    total.ones += counts.ones
                    total.twos += counts.twos
                    total.errors += counts.errors
                }
            }
        }
        // Some answers from version 1 first.
        let sawOne = try await running.waitUntil { try await running.answer("/v1/models/m:predict", x: 0).get() == VersionedModels.answer(version: 1, x: 0) }
        #expect(sawOne)
        try models.add(2)
        let switched = try await running.waitUntil { try await running.answer("/v1/models/m:predict", x: 0).get() == VersionedModels.answer(version: 2, x: 0) }
        #expect(switched, "version 2 was not served within 60 s of appearing (poll interval 50 ms)")
        // A few more answers from version 2 before stopping the stream.
        for _ in 0..<20 { _ = try await running.answer("/v1/models/m:predict", x: 0) }
        stop.withLock { $0 = true }
        let counts = try await stream.value
        #expect(counts.errors.isEmpty, "errors while the version changed: \(counts.errors.prefix(5))")
        #expect(counts.ones > 0 && counts.twos > 0, "answers by version: \(counts)")
        let states = try await running.versions("m").mapValues(\.0)
        #expect(states == [1: "END", 2: "AVAILABLE"], "\(states)")

        // The new version's directory removed: version 1, still on disk, is loaded again.
        try FileManager.default.removeItem(at: models.base.appendingPathComponent("2"))
        let back = try await running.waitUntil { try await running.answer("/v1/models/m:predict", x: 0).get() == VersionedModels.answer(version: 1, x: 0) }
        #expect(back)
        #expect(try await running.versions("m").mapValues(\.0) == [1: "AVAILABLE", 2: "END"])
        try await running.stop()
    }

    /// A request routed to a version before it is unloaded is answered by that version: the
    /// version's batcher stops only when its last request is done.
    @Test func requestsInFlightFinishOnTheOldVersion() async throws {
        let models = try VersionedModels()
        defer { models.remove() }
        try models.add(1)
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let server = try ModelServer(configs: [ModelConfig(name: "m", basePath: models.base.path)],
                                     configuration: .init(port: 0, maxBatch: 8, fileSystemPollWait: nil), logger: quiet)
        let old = try server.registry.acquire("m", .latest).get()   // a request in flight on version 1
        try models.add(2)
        server.registry.poll()
        #expect(try server.registry.statuses("m", .latest).get().map(\.state) == [.available, .end])
        #expect(old.version == 1 && old.requestsInFlight == 1)
        let output = try await old.batcher.predict(Tensor(shape: [1, 1], scalars: [Float(3)]))
        #expect(output.asArray(Float.self) == [VersionedModels.answer(version: 1, x: 3)])
        old.release()
        let new = try server.registry.acquire("m", .latest).get()
        #expect(new.version == 2)
        #expect(try await new.batcher.predict(Tensor(shape: [1, 1], scalars: [Float(3)])).asArray(Float.self) == [VersionedModels.answer(version: 2, x: 3)])
        new.release()
        // The old version's batcher has stopped: a request reaching it now is refused, not hung.
        await #expect(throws: RequestError.self) { try await old.batcher.predict(Tensor(shape: [1, 1], scalars: [Float(3)])) }
        server.registry.shutdown()
    }

    /// A version that cannot be loaded is logged and shown END with its error; the version
    /// loaded keeps serving; once its file is fixed, it is loaded.
    @Test func brokenVersionDoesNotTakeTheModelDown() async throws {
        let models = try VersionedModels()
        defer { models.remove() }
        try models.add(1)
        let running = try await startServer([ModelConfig(name: "m", basePath: models.base.path)], pollWait: .milliseconds(50))
        try models.addBroken(2)
        let failed = try await running.waitUntil { try await running.versions("m")[2]?.0 == "END" }
        #expect(failed)
        let states = try await running.versions("m")
        #expect(states[1]?.0 == "AVAILABLE" && states[2]?.1.contains("cannot load version 2 of m") == true, "\(states)")
        #expect(try await running.answer("/v1/models/m:predict", x: 2).get() == VersionedModels.answer(version: 1, x: 2))
        // An empty version directory: the same.
        try FileManager.default.createDirectory(at: models.base.appendingPathComponent("3"), withIntermediateDirectories: true)
        let empty = try await running.waitUntil { try await running.versions("m")[3]?.1.contains("no .lamina or .keras file") == true }
        #expect(empty)
        #expect(try await running.answer("/v1/models/m:predict", x: 2).get() == VersionedModels.answer(version: 1, x: 2))
        let (code, _) = try await running.error("/v1/models/m/versions/2:predict", method: "POST", body: "{\"instances\": [[1.0]]}")
        #expect(code == 404)
        // Version 3's file arrives: it is loaded and served, and 1 is unloaded.
        try VersionedModels.write(w: 3, b: 30, to: models.base.appendingPathComponent("3/model.lamina"))
        let fixed = try await running.waitUntil { try await running.answer("/v1/models/m:predict", x: 2).get() == VersionedModels.answer(version: 3, x: 2) }
        #expect(fixed)
        #expect(try await running.versions("m").mapValues(\.0) == [1: "END", 2: "END", 3: "AVAILABLE"])
        try await running.stop()
    }

    /// A model file that cannot be loaded stops the server from starting, with the reason.
    @Test func unloadableModelFileIsAnError() throws {
        let models = try VersionedModels()
        defer { models.remove() }
        let file = models.base.appendingPathComponent("bad.lamina")
        try Data("nope".utf8).write(to: file)
        #expect(throws: RequestError.self) { _ = try ModelServer(configs: [ModelConfig(name: "bad", basePath: file.path)]) }
        #expect(throws: RequestError.self) { _ = try ModelServer(configs: [ModelConfig(name: "a/b", basePath: file.path)]) }
        #expect(throws: RequestError.self) {
            _ = try ModelServer(configs: [ModelConfig(name: "x", basePath: models.base.path), ModelConfig(name: "x", basePath: models.base.path)])
        }
    }

    /// TF Serving's model config file (text protobuf), and the errors that name a line.
    @Test func modelConfigFile() throws {
        let text = """
        # two models
        model_config_list {
          config {
            name: 'mnist'
            base_path: "/models/mnist"
            model_platform: "tensorflow"
            model_version_policy { specific { versions: 1 versions: 3 } }
            version_labels { key: 'stable' value: 1 }
            version_labels { key: 'canary' value: 3 }
          }
          config: {
            name: "text"; base_path: "/models/" "text",
            model_version_policy: { latest: { num_versions: 2 } }
          }
          config < name: "all" base_path: "/m" model_version_policy { all {} } versions_ignored_below: 1 >
        }
        """
        #expect(throws: RequestError.self) { try ModelConfigFile.parse(text) }   // versions_ignored_below is not a field
        let configs = try ModelConfigFile.parse(text.replacingOccurrences(of: " versions_ignored_below: 1", with: ""))
        #expect(configs == [
            ModelConfig(name: "mnist", basePath: "/models/mnist", policy: .specific([1, 3]), labels: ["stable": 1, "canary": 3]),
            ModelConfig(name: "text", basePath: "/models/text", policy: .latest(2)),
            ModelConfig(name: "all", basePath: "/m", policy: .all),
        ])
        #expect(try ModelConfigFile.parse("model_config_list { config { name: 'a' base_path: '/a' model_version_policy { specific { versions: [4, 5] } } } }")
                == [ModelConfig(name: "a", basePath: "/a", policy: .specific([4, 5]))])
        let bad: [(String, String)] = [
            ("model_config_list { config { name: 'a' } }", "needs a base_path"),
            ("model_config_list { config { base_path: '/a' } }", "needs a name"),
            ("model_config_list {\n config {\n name: 'a' base_path: '/a' color: 'red' } }", "line 3: unknown or unsupported field 'color'"),
            ("model_config_list { config { name: 'a' base_path: '/a'", "unexpected end of file"),
            ("model_config_list { config { name: a base_path: '/a' } }", "must be a quoted string"),
            ("custom_model_config { }", "custom_model_config is not supported"),
            ("model_config_list { config { name: 'a' base_path: '/a' model_version_policy { newest {} } } }", "unknown version policy 'newest'"),
            ("model_config_list { config { name: 'a' base_path: '/a' model_version_policy { latest { num_versions: 0 } } } }", "at least 1"),
            ("model_config_list { config { name: 'a\n' } }", "unterminated string"),
            ("model_config_list { config { name: 'a' base_path: '/a' version_labels { key: 'x' } } }", "needs a key and a value"),
            ("model_config_list { @ }", "unexpected '@'"),
        ]
        for (input, message) in bad {
            do {
                _ = try ModelConfigFile.parse(input)
                Issue.record("parsed: \(input)")
            } catch {
                #expect(error.status == 400 && error.message.contains(message), "\(input): \(error.message)")
            }
        }
        #expect(try ModelConfigFile.parse("# nothing\n").isEmpty)

        // Mutated files (bytes changed, cut short, repeated) are parsed or refused, never a crash.
        var generator = RandomGenerator(seed: 7)
        let valid = Array(text.utf8)
        let alphabet = Array("{}<>[]:;,'\"\\#\n 0123456789-_.abcxyz\u{0}\u{ff}".utf8)
        var parsed = 0, refused = 0
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<Int(generator.next() % 6 + 1) {
                let at = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[at] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                case 1: bytes.removeSubrange(at..<min(bytes.count, at + Int(generator.next() % 20)))
                case 2:
                    let from = at % valid.count   // a piece of the valid file, put in at `at`
                    bytes.insert(contentsOf: valid[from..<min(valid.count, from + Int(generator.next() % 40))], at: at)
                default: bytes = Array(bytes.prefix(at))
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
            }
            do {
                _ = try ModelConfigFile.parse(String(decoding: bytes, as: UTF8.self))
                parsed += 1
            } catch {
                #expect(error.status == 400 && !error.message.isEmpty)
                refused += 1
            }
        }
        #expect(parsed + refused == 3000 && refused > 0)
    }
}
