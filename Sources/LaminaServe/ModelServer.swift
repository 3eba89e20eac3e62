import Foundation
import Hummingbird
import Lamina
import Logging
import Prometheus
import ServiceLifecycle

/// How a `ModelServer` listens and batches.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (see `ModelServer.onServerRunning`).
    public var port: Int
    /// The most samples one batched `predict` takes; 0 turns batching off.
    public var maxBatch: Int
    /// How long the first request of a batch waits for others.
    public var batchTimeout: Duration
    /// The largest request body accepted (413 above it).
    public var maxBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 64, batchTimeout: Duration = .microseconds(2000),
                maxBodyBytes: Int = 16 << 20) {
        (self.host, self.port, self.maxBatch, self.batchTimeout, self.maxBodyBytes) = (host, port, maxBatch, batchTimeout, maxBodyBytes)
    }
}

/// Serves models over HTTP with TensorFlow Serving's REST protocol, so its clients work as
/// they are:
/// - `POST /v1/models/{name}:predict` with `{"instances": [...]}` → `{"predictions": [...]}`
///   (or `{"inputs": ...}` → `{"outputs": ...}`);
/// - `GET /v1/models/{name}` (version status), `GET /v1/models/{name}/metadata` (input and
///   output shapes and dtypes as a signature);
/// - `GET /healthz` and `GET /metrics` (Prometheus: requests by model and code, latency
///   histogram, batch sizes, predict calls).
///
/// Concurrent requests are coalesced into batched predictions (`DynamicBatcher`). Bad input
/// gets a 4xx with `{"error": "..."}` naming the problem. It runs as a swift-service-lifecycle
/// service: SIGTERM/SIGINT stop accepting connections, finish the requests in flight, then
/// stop the batchers.
public final class ModelServer: Sendable {
    public let configuration: ServerConfiguration
    let models: [String: DynamicBatcher]
    let metrics: ServerMetrics
    let logger: Logger

    public init(models: [String: InferenceModel], configuration: ServerConfiguration = .init(), logger: Logger? = nil) {
        self.configuration = configuration
        let metrics = ServerMetrics()
        self.metrics = metrics
        self.models = Dictionary(uniqueKeysWithValues: models.map { name, model in
            (name, DynamicBatcher(model: model, maxBatch: configuration.maxBatch, timeout: configuration.batchTimeout) { samples in
                metrics.recordPredict(model: name, samples: samples)
            })
        })
        self.logger = logger ?? Logger(label: "lamina-serve")
    }

    /// The Prometheus text exposition of the server's metrics (what `GET /metrics` returns).
    public var metricsText: String { metrics.registry.emitToString() }

    /// The Hummingbird application; `onServerRunning` receives the bound port.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metricsText)))
        }
        router.get("v1/models/:model") { _, context in
            self.respond(model: try context.parameters.require("model"), verb: "status") { name, _ in
                (200, ResponseBody.json(["model_version_status": [["version": "1", "state": "AVAILABLE",
                                                                    "status": ["error_code": "OK", "error_message": ""]]]]))
            }
        }
        router.get("v1/models/:model/metadata") { _, context in
            self.respond(model: try context.parameters.require("model"), verb: "metadata") { name, batcher in
                (200, ResponseBody.json(Self.metadata(name: name, model: batcher.model)))
            }
        }
        router.post("v1/models/:model") { request, context in
            let started = ContinuousClock.now
            let segment = try context.parameters.require("model")
            let (status, body) = await self.predict(segment: segment, request: request)
            // Unknown names are counted under one label, so clients cannot grow the metrics without bound.
            let name = segment.split(separator: ":", maxSplits: 1).first.map(String.init) ?? segment
            self.metrics.recordRequest(model: self.models[name] == nil ? "_unknown" : name, code: status,
                                       duration: ContinuousClock.now - started)
            return Self.response(status, body)
        }
        let batchers = Array(models.values)
        return Application(router: router,
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                                serverName: "lamina-serve"),
                           services: [BatcherService(batchers: batchers)],
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? -1) },
                           logger: logger)
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run() async throws {
        let app = application { port in self.logger.info("lamina-serve listening on \(self.configuration.host):\(port)") }
        try await app.runService()
    }

    private func respond(model name: String, verb: String,
                         _ body: (String, DynamicBatcher) -> (Int, [UInt8])) -> Response {
        guard let batcher = models[name] else {
            return Self.response(404, ResponseBody.error("no model named '\(name)'; this server has \(models.keys.sorted().joined(separator: ", "))"))
        }
        let (status, bytes) = body(name, batcher)
        return Self.response(status, bytes)
    }

    /// `POST /v1/models/{name}:predict`: status and body.
    func predict(segment: String, request: Request) async -> (Int, [UInt8]) {
        let parts = segment.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1] == "predict" else {
            return (404, ResponseBody.error("unknown verb in '\(segment)'; POST /v1/models/{name}:predict"))
        }
        let name = String(parts[0])
        guard let batcher = models[name] else {
            return (404, ResponseBody.error("no model named '\(name)'; this server has \(models.keys.sorted().joined(separator: ", "))"))
        }
        batcher.announce()   // an open batch waits for this request while its body is read and parsed
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch {
            batcher.withdraw()
            return (413, ResponseBody.error("the request body is over the limit of \(configuration.maxBodyBytes) bytes"))
        }
        let parsed: PredictRequest
        do {
            parsed = try PredictRequest.parse(Array(buffer: body), inputNames: Self.servedInputNames(batcher.model),
                                              inputShapes: batcher.model.inputShapes)
        } catch {
            batcher.withdraw()
            return (error.status, ResponseBody.error(error.message))
        }
        do {
            let outputs = try await batcher.predict(parsed.inputs, announced: true)
            return (200, ResponseBody.predictions(outputs, names: Self.servedOutputNames(batcher.model), format: parsed.format))
        } catch let error as RequestError {
            return (error.status, ResponseBody.error(error.message))
        } catch let error as LaminaError {
            return (400, ResponseBody.error(error.message))
        } catch {
            logger.error("predict failed: \(error)")
            return (500, ResponseBody.error("prediction failed"))
        }
    }

    static func response(_ status: Int, _ body: [UInt8]) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The names requests use for the model's inputs and responses for its outputs: `input` and
    /// `output` for a model of one each (as before), else the input and output layers' names.
    static func servedInputNames(_ model: InferenceModel) -> [String] { model.inputNames.count == 1 ? ["input"] : model.inputNames }
    static func servedOutputNames(_ model: InferenceModel) -> [String] { model.outputNames.count == 1 ? ["output"] : model.outputNames }

    /// A TensorFlow Serving–style signature: each float input `[-1] + shape` and output by name.
    static func metadata(name: String, model: InferenceModel) -> [String: Any] {
        func tensor(_ shape: [Int], _ key: String) -> [String: Any] {
            ["dtype": model.dtype == .float64 ? "DT_DOUBLE" : "DT_FLOAT", "name": key,
             "tensor_shape": ["dim": ([-1] + shape).map { ["size": String($0), "name": ""] }, "unknown_rank": false]]
        }
        let inputs = Dictionary(zip(servedInputNames(model), model.inputShapes).map { ($0, tensor($1, $0)) }, uniquingKeysWith: { a, _ in a })
        let outputs = Dictionary(zip(servedOutputNames(model), model.outputShapes).map { ($0, tensor($1, $0)) }, uniquingKeysWith: { a, _ in a })
        return ["model_spec": ["name": name, "signature_name": "", "version": "1"],
                "metadata": ["signature_def": ["signature_def": ["serving_default": [
                    "inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict"]]]]]
    }
}

/// Stops the batchers when the service group shuts down (after the HTTP server has finished
/// its requests: services stop in reverse order, and the application's own server is last).
struct BatcherService: Service {
    let batchers: [DynamicBatcher]
    func run() async throws {
        try? await gracefulShutdown()
        for batcher in batchers { batcher.shutdown() }
    }
}

/// The Prometheus metrics of a server.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    func recordRequest(model: String, code: Int, duration: Duration) {
        registry.makeCounter(name: "lamina_requests_total", labels: [("model", model), ("code", String(code))]).increment()
        registry.makeDurationHistogram(name: "lamina_request_duration_seconds", labels: [("model", model)],
                                       buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                                 .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                                 .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
            .record(duration)
    }

    func recordPredict(model: String, samples: Int) {
        registry.makeCounter(name: "lamina_predict_calls_total", labels: [("model", model)]).increment()
        registry.makeValueHistogram(name: "lamina_batch_size", labels: [("model", model)],
                                    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]).record(Double(samples))
    }

    /// The number of `predict` calls made for `model` so far.
    func predictCalls(_ model: String) -> Int {
        let text = registry.emitToString()
        for line in text.split(separator: "\n") where line.hasPrefix("lamina_predict_calls_total{model=\"\(model)\"}") {
            return Int(Double(line.split(separator: " ").last ?? "0") ?? 0)
        }
        return 0
    }
}
