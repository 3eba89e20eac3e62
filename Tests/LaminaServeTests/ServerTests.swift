import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Lamina
import LaminaServeTestSupport
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
        return try await start(ModelServer(models: models, configuration: configuration, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }))
    }

    /// `server` started (its configuration's port should be 0).
    static func start(_ server: ModelServer) async throws -> RunningServer {
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
        // Not `session.data(for:)`: in swift-corelibs-foundation its cancellation handler calls
        // URLSessionTask.cancel(), a sync on the session's queue, while holding the task's status
        // lock, and a completion on that queue waits for the same lock to resume the caller: a
        // task group cancelling its children at exit deadlocked this suite (seen in CI under
        // ThreadSanitizer, one run in five here; gdb showed both threads). A completion handler
        // and a continuation without a cancellation handler cannot meet that lock.
        let (data, response): (Data, URLResponse?) = try await withCheckedThrowingContinuation { continuation in
            Self.session.dataTask(with: request) { data, response, error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: (data ?? Data(), response)) }
            }.resume()
        }
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

    /// A model of one input of shape [1] (one number per sample).
    static func scalarModel() throws -> InferenceModel {
        try Lamina.withRandomSeed(1) { Sequential([Input(shape: [1]), Dense(1)]) }.inferenceModel()
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
            ("no tensor", "{\"x\": 1}", 400, "needs \"instances\" or \"inputs\""),
            ("empty", "{\"instances\": []}", 400, "the batch is empty"),
            ("wrong shape", "{\"instances\": [[1, 2, 3]]}", 400, "instance 0[0]: expected a list of 8 (sample shape [8, 1]), got a number"),
            ("short", "{\"instances\": [[[[1]]]]}", 400, "instance 0[0]: expected 8 values at this level (sample shape [8, 1]), got 1"),
            ("wrong depth", "{\"instances\": [\(nested(Array(repeating: 0.5, count: 64), [8, 8]))]}", 400, "expected a list of 1"),
            ("string", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[\"a\"]"))]}", 400, "expected a number, got a string"),
            ("boolean", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[true]"))]}", 400, "got a boolean"),
            ("null", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[null]"))]}", 400, "got null"),
            ("nan spelled wrong", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[nan]"))]}", 400, "malformed JSON"),
            ("ragged", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[0.5, 0.5]"))]}", 400, "expected 1 values at this level (sample shape [1]), got 2"),
            ("ragged rows", "{\"instances\": [\(row), [[[1]]]]}", 400, "instance 1[0]: expected 8 values"),
            ("leading zero", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[05]"))]}", 400, "malformed JSON"),
            ("bare point", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[.5]"))]}", 400, "malformed JSON"),
            ("trailing point", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[5.]"))]}", 400, "malformed JSON"),
            ("plus sign", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[+5]"))]}", 400, "malformed JSON"),
            ("trailing comma", "{\"instances\": [\(row.replacingOccurrences(of: "[0.5]", with: "[5,]"))]}", 400, "malformed JSON"),
            ("trailing garbage", "{\"instances\": [\(row)]} x", 400, "trailing characters"),
            ("unterminated", "{\"instances\": [\(row)], \"x\": \"abc", 400, "unterminated string"),
            ("bad escape", "{\"x\": \"\\q\", \"instances\": [\(row)]}", 400, "bad escape"),
            ("lone surrogate", "{\"x\": \"\\ud800\", \"instances\": [\(row)]}", 400, "lone surrogate"),
            ("deep", "{\"x\": \(String(repeating: "[", count: 5000))\(String(repeating: "]", count: 5000)), \"instances\": [\(row)]}", 400, "nests deeper than 128"),
            ("beyond double", "{\"x\": [1e39, -1e400], \"instances\": [\(row)]}", 400, "beyond the range of double"),
            ("signature", "{\"signature_name\": \"classify\", \"instances\": [\(row)]}", 400, "unknown signature_name \"classify\""),
            ("signature not a string", "{\"signature_name\": 1, \"instances\": [\(row)]}", 400, "signature_name must be a string"),
            ("twice", "{\"instances\": [\(row)], \"instances\": [\(row)]}", 400, "given twice"),
            ("input twice", "{\"instances\": [{\"input\": \(row), \"input\": \(row)}]}", 400, "given twice"),
            ("named missing", "{\"instances\": [{}]}", 400, "missing [\"input\"]"),
            ("columns not a list", "{\"inputs\": 3}", 400, "must be a list of samples"),
            ("instances not a list", "{\"instances\": {\"input\": 1}}", 400, "\"instances\" must be a list"),
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
        #expect(unknown.0 == 404 && String(decoding: unknown.1, as: UTF8.self).contains("Servable not found for request: Latest(other)"))
        let verb = try await running.request("/v1/models/mnist:classify", method: "POST", body: Data("{}".utf8))
        #expect(verb.0 == 404 && String(decoding: verb.1, as: UTF8.self).contains("unknown verb"))
        // Invalid UTF-8 in a key, and bytes that are not JSON at all.
        var latin1 = Data("{\"ab".utf8); latin1.append(0xE9); latin1.append(contentsOf: Array("\": 1, \"instances\": [\(row)]}".utf8))
        let (latinCode, latinBody) = try await running.request("/v1/models/mnist:predict", method: "POST", body: latin1)
        #expect(latinCode == 400 && String(decoding: latinBody, as: UTF8.self).contains("not valid UTF-8"), "\(latinCode)")
        let (binaryCode, binaryBody) = try await running.request("/v1/models/mnist:predict", method: "POST", body: Data([0, 1, 2, 0xFF]))
        #expect(binaryCode == 400 && String(decoding: binaryBody, as: UTF8.self).contains("malformed JSON"), "\(binaryCode)")
        // Too many samples: 413, from the count alone.
        let many = "{\"inputs\": [" + Array(repeating: "[1]", count: PredictRequest.maximumSamples + 1).joined(separator: ",") + "]}"
        let manyRunning = try await RunningServer.start(["scalar": try Self.scalarModel()], .init(maxBatch: 0))
        let (manyCode, manyBody) = try await manyRunning.request("/v1/models/scalar:predict", method: "POST", body: Data(many.utf8))
        #expect(manyCode == 413 && String(decoding: manyBody, as: UTF8.self).contains("the limit is"), "\(manyCode)")
        try await manyRunning.stop()
        let big = try await running.request("/v1/models/mnist:predict", method: "POST", body: Data(repeating: 0x20, count: 100 << 10))
        #expect(big.0 == 413 && String(decoding: big.1, as: UTF8.self).contains("over the limit"), "\(big.0)")
        // Still serving.
        let (status, body) = try await running.predict("mnist", instancesJSON(x.sliced(axis: 0, 0..<2)))
        #expect(status == 200)
        expectPredictions(body, equal: try model.predict(x.sliced(axis: 0, 0..<2)), "after bad requests")
        try await running.stop()
    }

    /// TensorFlow Serving's REST forms, hand-written as its clients send them: versions and
    /// labels in the paths (predict, status, metadata), named rows and named columns,
    /// `signature_name` "serving_default" and "serve", unknown top-level keys ignored; each
    /// answer is model.predict's.
    @Test func tensorFlowServingRESTForms() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningServer.start(["mnist": model], .init(maxBatch: 8, versionLabels: ["stable": 1, "canary": 2]))
        let two = x.sliced(axis: 0, 0..<2)
        let expected = try model.predict(two)
        let rows = instancesJSON(two)
        let rowList = String(rows.dropFirst("{\"instances\": ".count).dropLast())   // [r0, r1]
        let values = two.asArray(Float.self)
        let namedRows = "{\"instances\": [" + (0..<2).map { i in
            "{\"input\": " + nested(Array(values[(i * 64)..<((i + 1) * 64)]), [8, 8, 1]) + "}"
        }.joined(separator: ", ") + "]}"
        let forms: [(String, String, String)] = [
            ("/v1/models/mnist:predict", rows, "predictions"),
            ("/v1/models/mnist/versions/1:predict", rows, "predictions"),
            ("/v1/models/mnist/labels/stable:predict", rows, "predictions"),
            ("/v1/models/mnist:predict", namedRows, "predictions"),
            ("/v1/models/mnist:predict", "{\"inputs\": {\"input\": \(rowList)}}", "outputs"),
            ("/v1/models/mnist:predict", "{\"inputs\": \(rowList)}", "outputs"),
            ("/v1/models/mnist:predict", "{\"signature_name\": \"serve\", \"instances\": \(rowList)}", "predictions"),
            ("/v1/models/mnist/versions/1:predict", "{\"signature_name\": \"serving_default\", \"inputs\": \(rowList)}", "outputs"),
            ("/v1/models/mnist:predict", "{\"meta\": {\"client\": [\"a\", 1, null, true, {\"b\": -1.5e3}]}, \"instances\": \(rowList), \"id\": \"\\u00e9\\ud83d\\ude00\"}", "predictions"),
            ("/v1/models/mnist:predict", " \n{ \"instances\" :\t\(rowList.replacingOccurrences(of: ", ", with: " ,\n "))\r\n}\n", "predictions"),
        ]
        for (path, body, key) in forms {
            let (status, data) = try await running.request(path, method: "POST", body: Data(body.utf8))
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            #expect(status == 200, "\(path) \(body.prefix(80)): \(status) \(String(decoding: data, as: UTF8.self).prefix(300))")
            let got = flatFloats(object[key]), want = expected.asArray(Float.self)
            #expect(got.count == want.count && zip(got, want).allSatisfy { Swift.abs($0 - $1) <= 1e-5 * max(1, Swift.abs($1)) },
                    "\(path) \(body.prefix(80)): \(got) vs \(want)")
        }
        // Status and metadata under every path form.
        for prefix in ["/v1/models/mnist", "/v1/models/mnist/versions/1", "/v1/models/mnist/labels/stable"] {
            let (statusCode, statusBody) = try await running.request(prefix)
            let text = String(decoding: statusBody, as: UTF8.self)
            #expect(statusCode == 200 && text.contains("\"AVAILABLE\"") && text.contains("\"version\":\"1\""), "\(prefix): \(text)")
            let (metaCode, metaBody) = try await running.request(prefix + "/metadata")
            let meta = String(decoding: metaBody, as: UTF8.self)
            #expect(metaCode == 200 && meta.contains("\"serving_default\"") && meta.contains("\"serve\"") && meta.contains("DT_FLOAT"), "\(prefix): \(meta.prefix(300))")
        }
        // Every 4xx has an {"error": ...} body, unknown routes included.
        let errors: [(String, String, Int, String)] = [
            ("GET", "/nothing/here", 404, "no route for GET /nothing/here"),
            ("POST", "/v1/models", 404, "no route"),
            ("GET", "/v1/models/mnist/versions/1/signatures", 404, "no route"),
            ("GET", "/v1/models/other", 404, "Could not find any versions of model other"),
            ("GET", "/v1/models/mnist/versions/2", 404, "Could not find version 2 of model mnist"),
            ("GET", "/v1/models/mnist/versions/2/metadata", 404, "Servable not found"),
            ("POST", "/v1/models/mnist/versions/7:predict", 404, "Servable not found"),
            ("GET", "/v1/models/mnist/versions/one", 400, "must be a number"),
            ("GET", "/v1/models/mnist/labels/beta", 400, "Unrecognized servable version label: beta"),
            ("POST", "/v1/models/mnist/labels/canary:predict", 404, "Servable not found"),
            ("POST", "/v1/models/mnist/versions/1:regress", 404, "unknown verb ':regress'"),
            ("POST", "/v1/models/mnist/versions/1", 404, "no verb"),
            ("GET", "/v1/models/mnist:predict", 405, "is a POST path"),
            ("DELETE", "/v1/models/mnist", 404, "no route for DELETE"),
        ]
        for (method, path, code, message) in errors {
            let (status, data) = try await running.request(path, method: method, body: method == "POST" ? Data(rows.utf8) : nil)
            let error = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["error"] as? String ?? "<no error body: \(String(decoding: data, as: UTF8.self))>"
            #expect(status == code && error.contains(message), "\(method) \(path): \(status) \(error)")
        }
        let (status, body) = try await running.predict("mnist", rows)
        #expect(status == 200)
        expectPredictions(body, equal: expected, "after the error paths")
        try await running.stop()
    }

    /// NaN, Infinity and -Infinity are taken in and written out as TF Serving writes them.
    @Test func nonFiniteTokensInAndOut() async throws {
        let dense = Lamina.withRandomSeed(2) { Sequential([Input(shape: [3]), Dense(2)]) }
        let model = try dense.inferenceModel()
        let running = try await RunningServer.start(["d": model], .init(maxBatch: 0))
        let x = Tensor(shape: [3, 3], scalars: [Float.nan, 1, 2, .infinity, 0, 0, -.infinity, 0, 0])
        let expected = try model.predict(x).asArray(Float.self)
        let (status, data) = try await running.request("/v1/models/d:predict", method: "POST",
                                                       body: Data("{\"instances\": [[NaN, 1, 2], [Infinity, 0, 0], [-Infinity, 0, 0]]}".utf8))
        let text = String(decoding: data, as: UTF8.self)
        #expect(status == 200 && !text.contains("null"), "\(status) \(text)")
        let got = tokens(text)
        #expect(got.count == expected.count, "\(text)")
        for (g, e) in zip(got, expected) {
            #expect(g.isNaN ? e.isNaN : g == e, "\(text) vs \(expected)")
        }
        #expect(text.contains("NaN") && (text.contains("Infinity")), "\(text)")
        // The same values parsed back by the request parser (the tokens are valid for it).
        let back = try PredictRequest.parse(Array(text.replacingOccurrences(of: "predictions", with: "instances").utf8), inputShape: [2])
        #expect(back.batch.shape == [3, 2])
        try await running.stop()
    }

    /// The numbers of a response body, NaN and Infinity tokens included.
    func tokens(_ text: String) -> [Float] {
        text.split(whereSeparator: { "[]{},: \n".contains($0) }).compactMap { token in
            token == "NaN" ? .nan : token == "Infinity" ? .infinity : token == "-Infinity" ? -.infinity : Float(token)
        }
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
        let running = try await RunningServer.start(["mnist": model], .init(maxBatch: 64, batchTimeout: .seconds(3)))
        let probe = try ShutdownProbe(running.server, model: "mnist")
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let status = try await running.predict("mnist", instancesJSON(x.sliced(axis: 0, i..<(i + 1)))).0
                    probe.answer()
                    return status
                }
            }
            try await probe.waitUntilReached(8)
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

    /// Numbers are read as float32 correctly rounded (as `Float(String)`, strtof, reads them),
    /// in JSON's grammar, with float32's range; the response writer's numbers read back exactly.
    @Test func numbersAreCorrectlyRounded() throws {
        func parse(_ text: String) throws -> Float {
            try PredictRequest.parse(Array("{\"instances\": [\(text)]}".utf8), inputShape: []).batch.asArray(Float.self)[0]
        }
        let cases: [(String, Float)] = [
            ("0", 0), ("-0", -0.0), ("1", 1), ("-1", -1), ("0.5", 0.5), ("1e2", 100), ("1E+2", 100), ("1e-2", 0.01), ("12.5e-1", 1.25),
            ("3.4028235e38", .greatestFiniteMagnitude), ("-3.4028235e38", -.greatestFiniteMagnitude),
            ("1.17549435e-38", .leastNormalMagnitude), ("1e-45", .leastNonzeroMagnitude), ("1e-50", 0),
            ("0.1", 0.1), ("0.30000000000000004", 0.3), ("16777217", 16777216), ("16777219", 16777220),
            ("123456789012345678901234567890", 1.2345679e29), ("0.000000000000000000000000000000000000000000001", 1e-45),
            ("1.00000005960464477539062500000000001", 1.0000001), ("1.000000059604644775390625", 1),   // just above and exactly at a tie
            ("NaN", .nan), ("Infinity", .infinity), ("-Infinity", -.infinity),
        ]
        for (text, want) in cases {
            let got = try parse(text)
            #expect(got.isNaN ? want.isNaN : (got == want && got.sign == want.sign), "\(text): \(got), expected \(want)")
        }
        var rng = RandomGenerator(seed: 11)
        var writer = JSONWriter(capacity: 64)
        for trial in 0..<20000 {
            // Random float32 bit patterns (the writer's shortest digits) and random decimal strings.
            let bits = UInt32(truncatingIfNeeded: rng.next())
            let f = Float(bitPattern: bits)
            if f.isFinite {
                writer.bytes.removeAll(keepingCapacity: true)
                writer.number(f)
                let text = String(decoding: writer.bytes, as: UTF8.self)
                let back = try parse(text)
                #expect(back == f && back.sign == f.sign, "\(bits): wrote \(text), read \(back)")
            }
            let digits = String((0..<(1 + Int(rng.next() % 25))).map { _ in Character(String(rng.next() % 10)) })
            let decimal = (trial % 2 == 0 ? "" : "-") + (digits.first == "0" ? "0." + digits : digits)
                + (trial % 3 == 0 ? "e\(Int(rng.next() % 90) - 60)" : "")
            if let want = Float(decimal), want.isFinite {
                let got = try parse(decimal)
                #expect(got == want, "\(decimal): \(got), strtof says \(want)")
            }
        }
        for bad in ["01", "-", "1.", ".5", "+1", "1e", "1e+", "0x10", "--1", "-NaN", "nan", "inf", "Infinityx", "1.5.2", "1ee2"] {
            #expect(throws: RequestError.self, "\(bad)") { try parse(bad) }
        }
        #expect(throws: RequestError.self) { try parse("1e39") }
        #expect(throws: RequestError.self) { try parse("-3.5e38") }
    }

    /// Named rows and columns, and a model of several inputs, in the parser alone.
    @Test func namedFormsAndSeveralInputs() throws {
        let names = ["a", "b"], shapes = [[2], []]
        let rows = try PredictRequest.parse(Array("{\"instances\": [{\"b\": 5, \"a\": [1, 2]}, {\"a\": [3, 4], \"b\": 6}]}".utf8), inputNames: names, inputShapes: shapes)
        #expect(rows.inputs[0].shape == [2, 2] && rows.inputs[0].asArray(Float.self) == [1, 2, 3, 4])
        #expect(rows.inputs[1].shape == [2] && rows.inputs[1].asArray(Float.self) == [5, 6])
        let columns = try PredictRequest.parse(Array("{\"inputs\": {\"b\": [5, 6], \"a\": [[1, 2], [3, 4]]}}".utf8), inputNames: names, inputShapes: shapes)
        #expect(columns.format == .inputs && columns.inputs[0].asArray(Float.self) == [1, 2, 3, 4] && columns.inputs[1].asArray(Float.self) == [5, 6])
        for (body, message) in [
            ("{\"inputs\": {\"a\": [[1, 2]], \"b\": [5, 6]}}", "inputs b has 2 samples, a has 1"),
            ("{\"inputs\": {\"a\": [[1, 2]]}}", "missing [\"b\"]"),
            ("{\"inputs\": [[1, 2]]}", "give \"inputs\" as an object of batches by name"),
            ("{\"instances\": [[1, 2]]}", "give each instance as an object"),
            ("{\"instances\": [{\"a\": [1, 2], \"b\": [5]}]}", "instance 0.b: expected a number, got a list"),
            ("{\"inputs\": {\"a\": [[1, 2], [3]], \"b\": [5, 6]}}", "a[1]: expected 2 values at this level"),
        ] {
            #expect(throws: RequestError.self, "\(body)") { try PredictRequest.parse(Array(body.utf8), inputNames: names, inputShapes: shapes) }
            do { _ = try PredictRequest.parse(Array(body.utf8), inputNames: names, inputShapes: shapes) } catch {
                #expect(error.message.contains(message), "\(body): \(error.message)")
            }
        }
        let out = ResponseBody.predictions([Tensor(shape: [2, 1], scalars: [0.25, -1] as [Float]), Tensor(shape: [2], scalars: [Float.nan, .infinity])],
                                           names: ["p", "q"], format: .instances)
        #expect(String(decoding: out, as: UTF8.self) == "{\"predictions\": [{\"p\": [0.25], \"q\": NaN}, {\"p\": [-1.0], \"q\": Infinity}]}")
        let outColumns = ResponseBody.predictions([Tensor(shape: [1, 2], scalars: [1e-7, 123456] as [Float]), Tensor(shape: [1], scalars: [-Float.infinity])],
                                                  names: ["p", "q\"x"], format: .inputs)
        #expect(String(decoding: outColumns, as: UTF8.self) == "{\"outputs\": {\"p\": [[1e-07, 123456.0]], \"q\\\"x\": [-Infinity]}}")
    }

    /// Random bytes, and random mutations of valid requests in every form: always a value or a
    /// RequestError, never a crash; what the parser takes (without NaN/Infinity tokens) is JSON
    /// that Foundation's parser takes too. `LAMINA_FUZZ_SECONDS` runs it longer.
    @Test func fuzzedRequestsNeverCrashTheParser() {
        let seconds = Double(ProcessInfo.processInfo.environment["LAMINA_FUZZ_SECONDS"] ?? "") ?? 2
        var rng = RandomGenerator(seed: UInt64(ProcessInfo.processInfo.environment["LAMINA_FUZZ_SEED"] ?? "") ?? 7)
        let seeds = [
            "{\"instances\": [[1, 2, 3], [4, 5, 6]]}",
            "{\"inputs\": [[1.5e-3, -2, 3E2], [NaN, Infinity, -Infinity]], \"signature_name\": \"serve\"}",
            "{\"instances\": [{\"input\": [0.1, 0.2, 0.3]}], \"x\": {\"y\": [\"\\u00e9\\n\", null, true, false]}}",
            "{\"inputs\": {\"input\": [[1, 2, 3]]}, \"signature_name\": \"serving_default\"}",
            "{\"a\": [[[[]]]], \"instances\": [[0, -0, 0.0]]}",
        ].map { Array($0.utf8) }
        let alphabet = Array("[]{},:\"0123456789.eE-+ntfaNIy\\u \n".utf8)
        let deadline = ContinuousClock.now + .seconds(seconds)
        var accepted = 0, rejected = 0, disagreements: [String] = []
        var trial = 0
        while ContinuousClock.now < deadline || trial < 2000 {
            trial += 1
            var bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
            switch trial % 5 {
            case 0: bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1, 2:
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
            case 3:
                // Insert, delete or duplicate a span.
                let at = Int(rng.next() % UInt64(bytes.count)), n = Int(rng.next() % 8)
                switch rng.next() % 3 {
                case 0: bytes.insert(contentsOf: (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }, at: at)
                case 1: bytes.removeSubrange(at..<min(at + n, bytes.count))
                default: bytes.insert(contentsOf: bytes[at..<min(at + n, bytes.count)], at: Int(rng.next() % UInt64(bytes.count)))
                }
            default:
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))   // truncated
                if rng.next() % 2 == 0, !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            do {
                _ = try PredictRequest.parse(bytes, inputShape: [3])
                accepted += 1
                let text = String(decoding: bytes, as: UTF8.self)
                if !text.contains("NaN") && !text.contains("Inf"), (try? JSONSerialization.jsonObject(with: Data(bytes))) == nil, disagreements.count < 5 {
                    disagreements.append(text)
                }
            } catch {
                rejected += 1
                #expect((400...413).contains(error.status) && !error.message.isEmpty)
            }
        }
        #expect(accepted > 50 && rejected > 500, "accepted \(accepted), rejected \(rejected)")
        #expect(disagreements.isEmpty, "accepted, but not JSON to Foundation: \(disagreements)")
        print("fuzzed the request parser: \(trial) inputs in \(seconds) s, \(accepted) accepted, \(rejected) refused")
    }
}
