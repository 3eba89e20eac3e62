import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Lamina
import Logging
import ServiceLifecycle
import Testing
@testable import LaminaServe

/// A server started in-process on an ephemeral loopback port, and HTTP clients.
struct RunningServer {
    let server: ModelServer
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int

    static func start(_ models: [String: InferenceModel], _ configuration: ServerConfiguration) async throws -> RunningServer {
        var configuration = configuration
        configuration.port = 0
        let server = ModelServer(models: models, configuration: configuration, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = server.application { port in continuation.yield(port) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw RequestError(500, "the server did not start") }
        return RunningServer(server: server, group: group, task: task, port: port)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 128
        configuration.timeoutIntervalForRequest = 60
        return URLSession(configuration: configuration)
    }()

    /// Status and body of a request.
    func request(_ path: String, method: String = "GET", body: Data? = nil) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await Self.session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? -1, data)
    }

    func predict(_ name: String, _ json: String) async throws -> (Int, [String: Any]) {
        let (status, data) = try await request("/v1/models/\(name):predict", method: "POST", body: Data(json.utf8))
        return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }
}

/// A request body for `x` (`[n, ...]`) in TF Serving's row format.
func instancesJSON(_ x: Tensor) -> String {
    let values = x.asArray(Float.self)
    let per = x.count / x.shape[0]
    let rows = (0..<x.shape[0]).map { i in nested(Array(values[(i * per)..<((i + 1) * per)]), Array(x.shape.dropFirst())) }
    return "{\"instances\": [\(rows.joined(separator: ", "))]}"
}

private func nested(_ values: [Float], _ shape: [Int]) -> String {
    guard let n = shape.first else { return "\(values[0])" }
    let per = values.count / max(n, 1)
    return "[" + (0..<n).map { nested(Array(values[($0 * per)..<(($0 + 1) * per)]), Array(shape.dropFirst())) }.joined(separator: ", ") + "]"
}

func flatFloats(_ any: Any?) -> [Float] {
    if let n = any as? NSNumber { return [n.floatValue] }
    return (any as? [Any])?.flatMap(flatFloats) ?? []
}

@Suite(.serialized) struct ServerTests {
    static func model() throws -> (InferenceModel, Tensor) {
        let model = Lamina.withRandomSeed(3) {
            Sequential([Input(shape: [8, 8, 1]), Conv2D(4, kernelSize: 3, activation: .relu), BatchNormalization(), MaxPooling2D(),
                        Dropout(0.2), Flatten(), Dense(3, activation: .softmax)])
        }
        model.compile(optimizer: Adam(learningRate: 1e-2), loss: .sparseCategoricalCrossentropy)
        let x = Tensor.randomNormal([64, 8, 8, 1], seed: 4)
        try Lamina.withRandomSeed(5) {
            _ = try model.fit(x, Tensor(shape: [64], scalars: (0..<64).map { Int32($0 % 3) }), epochs: 1, batchSize: 16, verbose: 0)
        }
        return (try model.inferenceModel(), x)
    }

    func expectPredictions(_ body: [String: Any], equal expected: Tensor, _ what: String) {
        let got = flatFloats(body["predictions"]), want = expected.asArray(Float.self)
        #expect(got.count == want.count, "\(what): \(got.count) values, expected \(want.count)")
        let worst = zip(got, want).map { Swift.abs($0 - $1) / max(1, Swift.abs($1)) }.max() ?? .infinity
        #expect(worst <= 1e-5, "\(what): predictions differ from model.predict by \(worst)")
    }

    /// One client and 64 concurrent ones get `model.predict`'s answers; status and metadata
    /// describe the model.
    @Test func predictionsStatusAndMetadata() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningServer.start(["mnist": model], .init(maxBatch: 32, batchTimeout: .milliseconds(2)))
        let (status, body) = try await running.predict("mnist", instancesJSON(x.sliced(axis: 0, 0..<3)))
        #expect(status == 200)
        expectPredictions(body, equal: try model.predict(x.sliced(axis: 0, 0..<3)), "one client")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let slice = x.sliced(axis: 0, i..<(i + 1))
                    let (status, body) = try await running.predict("mnist", instancesJSON(slice))
                    #expect(status == 200)
                    self.expectPredictions(body, equal: try model.predict(slice), "client \(i)")
                }
            }
            try await group.waitForAll()
        }
        let (columnar, outputs) = try await running.predict("mnist", instancesJSON(x.sliced(axis: 0, 0..<2)).replacingOccurrences(of: "instances", with: "inputs"))
        #expect(columnar == 200 && flatFloats(outputs["outputs"]).count == 6)

        let (statusCode, statusBody) = try await running.request("/v1/models/mnist")
        #expect(statusCode == 200 && String(decoding: statusBody, as: UTF8.self).contains("\"AVAILABLE\""))
        let (metaCode, metaBody) = try await running.request("/v1/models/mnist/metadata")
        let meta = String(decoding: metaBody, as: UTF8.self)
        #expect(metaCode == 200 && meta.contains("DT_FLOAT") && meta.contains("\"size\":\"8\"") && meta.contains("\"size\":\"3\""), "\(meta)")
        let (health, _) = try await running.request("/healthz")
        #expect(health == 200)
        let (metricsCode, metrics) = try await running.request("/metrics")
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(metricsCode == 200 && text.contains("lamina_requests_total{model=\"mnist\",code=\"200\"} 66"), "\(text.prefix(600))")
        #expect(text.contains("lamina_batch_size_bucket") && text.contains("lamina_request_duration_seconds_bucket"))
        try await running.stop()
    }

    /// A functional model of two inputs and two outputs: named rows and named columns, as TF
    /// Serving takes them; outputs by name; the metadata lists both signatures' tensors.
    @Test func namedInputsAndOutputsOfAFunctionalModel() async throws {
        let a = Input(shape: [3], name: "a"), b = Input(shape: [2], name: "b")
        let joined = Concatenate()([Dense(4, activation: .relu)(a), b])
        let model = Lamina.withRandomSeed(7) {
            Model(inputs: [a, b], outputs: [Dense(2, activation: .softmax, name: "cls")(joined), Dense(1, name: "score")(joined)])
        }
        let served = try model.inferenceModel()
        let running = try await RunningServer.start(["two": served], .init(maxBatch: 8, batchTimeout: .milliseconds(2)))
        let xa = Tensor.randomNormal([2, 3], seed: 1), xb = Tensor.randomNormal([2, 2], seed: 2)
        let expected = try model.predict([xa, xb])
        let (va, vb) = (xa.asArray(Float.self), xb.asArray(Float.self))
        let rows = (0..<2).map { i in "{\"a\": \(Array(va[(i * 3)..<(i * 3 + 3)])), \"b\": \(Array(vb[(i * 2)..<(i * 2 + 2)]))}" }
        let (status, body) = try await running.predict("two", "{\"instances\": [\(rows.joined(separator: ", "))]}")
        #expect(status == 200, "\(body)")
        let predictions = try #require(body["predictions"] as? [[String: Any]])
        #expect(predictions.count == 2)
        let cls = predictions.flatMap { flatFloats($0["cls"]) }, score = predictions.flatMap { flatFloats($0["score"]) }
        #expect(zip(cls, expected[0].asArray(Float.self)).allSatisfy { Swift.abs($0 - $1) < 1e-5 }, "\(cls)")
        #expect(zip(score, expected[1].asArray(Float.self)).allSatisfy { Swift.abs($0 - $1) < 1e-5 }, "\(score)")
        let columns = "{\"inputs\": {\"a\": [\(Array(va[0..<3])), \(Array(va[3..<6]))], \"b\": [\(Array(vb[0..<2])), \(Array(vb[2..<4]))]}}"
        let (columnar, outputs) = try await running.predict("two", columns)
        let named = try #require(outputs["outputs"] as? [String: Any])
        #expect(columnar == 200 && flatFloats(named["cls"]).count == 4 && flatFloats(named["score"]).count == 2)
        let (missing, error) = try await running.predict("two", "{\"instances\": [{\"a\": [1, 2, 3]}]}")
        #expect(missing == 400 && (error["error"] as? String)?.contains("missing [\"b\"]") == true, "\(error)")
        let (_, metaBody) = try await running.request("/v1/models/two/metadata")
        let meta = String(decoding: metaBody, as: UTF8.self)
        #expect(meta.contains("\"a\"") && meta.contains("\"b\"") && meta.contains("\"cls\"") && meta.contains("\"score\""), "\(meta)")
        try await running.stop()
    }

    /// Every kind of bad input gets a 4xx naming the problem, and the server keeps serving.
    @Test func badInputGetsNamedClientErrors() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningServer.start(["mnist": model], .init(maxBatch: 8, maxBodyBytes: 64 << 10))
        let row = nested(Array(repeating: 0.5, count: 64), [8, 8, 1])
        let cases: [(String, String, Int, String)] = [
            ("malformed", "{\"instances\": [", 400, "malformed JSON"),
            ("not an object", "[1, 2]", 400, "must be a JSON object"),
            ("no field", "{\"x\": 1}", 400, "unknown field x"),
            ("empty", "{\"instances\": []}", 400, "the batch is empty"),
            ("wrong shape", "{\"instances\": [[1, 2, 3]]}", 400, "expected 8 values"),
            ("wrong depth", "{\"instances\": [\(nested(Array(repeating: 0.5, count: 64), [8, 8]))]}", 400, "expected a list of 1"),
            ("string", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[\"a\"]"))]}", 400, "expected a number, got a string"),
            ("boolean", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[true]"))]}", 400, "got a boolean"),
            ("null", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[null]"))]}", 400, "got null"),
            ("NaN", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[NaN]"))]}", 400, "NaN or Infinity"),
            ("huge", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[1e39]"))]}", 400, "not a finite float32"),
            ("unknown input name", "{\"instances\": [{\"image\": 1}]}", 400, "the model's inputs are [\"input\"]"),
            ("both", "{\"instances\": [], \"inputs\": []}", 400, "not both"),
        ]
        for (what, body, status, message) in cases {
            let (code, data) = try await running.request("/v1/models/mnist:predict", method: "POST", body: Data(body.utf8))
            let error = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["error"] as? String ?? ""
            #expect(code == status && error.contains(message), "\(what): \(code) \(error)")
        }
        let unknown = try await running.request("/v1/models/other:predict", method: "POST", body: Data("{}".utf8))
        #expect(unknown.0 == 404 && String(decoding: unknown.1, as: UTF8.self).contains("no model named 'other'"))
        let verb = try await running.request("/v1/models/mnist:classify", method: "POST", body: Data("{}".utf8))
        #expect(verb.0 == 404 && String(decoding: verb.1, as: UTF8.self).contains("unknown verb"))
        let big = try await running.request("/v1/models/mnist:predict", method: "POST", body: Data(repeating: 0x20, count: 100 << 10))
        #expect(big.0 == 413 && String(decoding: big.1, as: UTF8.self).contains("over the limit"), "\(big.0)")
        // Still serving.
        let (status, body) = try await running.predict("mnist", instancesJSON(x.sliced(axis: 0, 0..<2)))
        #expect(status == 200)
        expectPredictions(body, equal: try model.predict(x.sliced(axis: 0, 0..<2)), "after bad requests")
        try await running.stop()
    }

    /// Concurrent clients are coalesced into fewer predict calls with the same answers; with
    /// batching off each request is its own call.
    @Test func dynamicBatchingCoalescesConcurrentRequests() async throws {
        let (model, x) = try Self.model()
        for (maxBatch, timeout) in [(64, Duration.milliseconds(50)), (0, Duration.zero)] {
            let running = try await RunningServer.start(["mnist": model], .init(maxBatch: maxBatch, batchTimeout: timeout))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<32 {
                    group.addTask {
                        let slice = x.sliced(axis: 0, i..<(i + 2))
                        let (status, body) = try await running.predict("mnist", instancesJSON(slice))
                        #expect(status == 200)
                        self.expectPredictions(body, equal: try model.predict(slice), "batched client \(i)")
                    }
                }
                try await group.waitForAll()
            }
            let calls = running.server.metrics.predictCalls("mnist")
            if maxBatch > 0 {
                #expect(calls >= 1 && calls < 32, "32 concurrent requests took \(calls) predict calls with batching")
            } else {
                #expect(calls == 32, "without batching: \(calls) predict calls for 32 requests")
            }
            try await running.stop()
        }
    }

    /// Shutting down finishes the requests in flight; afterwards nothing is served.
    @Test func gracefulShutdownFinishesRequestsInFlight() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningServer.start(["mnist": model], .init(maxBatch: 64, batchTimeout: .milliseconds(400)))
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask { try await running.predict("mnist", instancesJSON(x.sliced(axis: 0, i..<(i + 1)))).0 }
            }
            try await Task.sleep(for: .milliseconds(150))   // the requests wait in the open batch
            await running.group.triggerGracefulShutdown()
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 8), "\(statuses)")
        try await running.task.value
        await #expect(throws: (any Error).self) { _ = try await running.request("/healthz") }
    }
}

/// The request parser alone: what reaches the model, and what does not.
@Suite struct PredictRequestTests {
    @Test func rowsAndColumnsBecomeOneBatch() throws {
        let rows = try PredictRequest.parse(Array("{\"instances\": [[[1], [2]], [[3], [4.5]]]}".utf8), inputShape: [2, 1])
        #expect(rows.format == .instances && rows.batch.shape == [2, 2, 1] && rows.batch.asArray(Float.self) == [1, 2, 3, 4.5])
        let columns = try PredictRequest.parse(Array("{\"inputs\": [[1, 2]], \"signature_name\": \"serving_default\"}".utf8), inputShape: [2])
        #expect(columns.format == .inputs && columns.batch.shape == [1, 2])
        #expect(String(decoding: ResponseBody.predictions(Tensor(shape: [2, 2], scalars: [0.5, 1, -2, 3] as [Float]), format: .instances), as: UTF8.self)
                == "{\"predictions\": [[0.5, 1.0], [-2.0, 3.0]]}")
    }

    /// Random bytes and mutations of a valid body: always a value or a RequestError, never a crash.
    @Test func arbitraryBytesNeverCrashTheParser() {
        var rng = RandomGenerator(seed: 7)
        let valid = Array("{\"instances\": [[1, 2, 3], [4, 5, 6]]}".utf8)
        var accepted = 0, rejected = 0
        for trial in 0..<2000 {
            var bytes = valid
            if trial % 3 == 0 {
                bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    bytes[at] = Array("[]{},:\"0123456789.eE-+ntfaNI".utf8)[Int(rng.next() % 27)]
                }
            }
            do { _ = try PredictRequest.parse(bytes, inputShape: [3]); accepted += 1 } catch { rejected += 1 }
        }
        #expect(accepted + rejected == 2000 && rejected > 500)
    }
}
