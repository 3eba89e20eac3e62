import Foundation
import Hummingbird
import Lamina
import Logging
import Prometheus
import ServiceLifecycle

/// How a `ModelServer` listens and batches.
public struct ServerConfiguration: Sendable {
    /// The address to listen on (`0.0.0.0` for every interface).
    public var host: String
    /// 0 picks a free port (see `ModelServer.onServerRunning`).
    public var port: Int
    /// The most samples one batched `predict` takes; 0 turns batching off.
    public var maxBatch: Int
    /// How long the first request of a batch waits for others.
    public var batchTimeout: Duration
    /// The largest request body accepted (413 above it).
    public var maxBodyBytes: Int
    /// Version labels (`/v1/models/NAME/labels/LABEL`), label → version, for every model.
    public var versionLabels: [String: Int] = [:]
    /// How often model base directories are looked at for new versions (TF Serving's
    /// `--file_system_poll_wait_seconds`); nil: only when the server starts.
    public var fileSystemPollWait: Duration? = .seconds(1)

    /// The settings; TensorFlow Serving's REST port is 8501.
    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 64, batchTimeout: Duration = .microseconds(2000),
                maxBodyBytes: Int = 16 << 20, versionLabels: [String: Int] = [:], fileSystemPollWait: Duration? = .seconds(1)) {
        (self.host, self.port, self.maxBatch, self.batchTimeout, self.maxBodyBytes) = (host, port, maxBatch, batchTimeout, maxBodyBytes)
        (self.versionLabels, self.fileSystemPollWait) = (versionLabels, fileSystemPollWait)
    }
}

/// Serves models over HTTP with TensorFlow Serving's REST protocol, so its clients work as
/// they are:
/// - `POST /v1/models/{name}:predict`, `.../versions/{n}:predict`, `.../labels/{label}:predict` with `{"instances": [...]}` → `{"predictions": [...]}`
///   (or `{"inputs": ...}` → `{"outputs": ...}`);
/// - `GET /v1/models/{name}` (version status), `GET /v1/models/{name}/metadata` (input and
///   output shapes and dtypes as a signature), each also under `/versions/{n}` and `/labels/{label}`;
///   several models, each with numbered versions from a base directory (`ModelRegistry`:
///   the latest by default, new versions picked up while serving), labels from `versionLabels`
///   and the models' configurations;
/// - `GET /healthz` and `GET /metrics` (Prometheus: requests by model and code, latency
///   histogram, batch sizes, predict calls).
///
/// Concurrent requests are coalesced into batched predictions (`DynamicBatcher`). Bad input
/// (and an unknown path) gets a 4xx with `{"error": "..."}` naming the problem. It runs as a swift-service-lifecycle
/// service: SIGTERM/SIGINT stop accepting connections, finish the requests in flight, then
/// stop the batchers.
public final class ModelServer: Sendable {
    /// How the server listens and batches.
    public let configuration: ServerConfiguration
    /// The models and their versions (REST and gRPC route through it).
    public let registry: ModelRegistry
    let metrics: ServerMetrics
    let logger: Logger

    /// Serves `models` (loaded already) by name, each as version 1 with its own batcher;
    /// `logger` receives one line per request.
    public init(models: [String: InferenceModel], configuration: ServerConfiguration = .init(), logger: Logger? = nil) {
        self.configuration = configuration
        let (metrics, logger) = (ServerMetrics(), logger ?? Logger(label: "lamina-serve"))
        (self.metrics, self.logger) = (metrics, logger)
        registry = ModelRegistry(models: models, labels: configuration.versionLabels,
                                 makeBatcher: Self.batcherFactory(configuration, metrics), logger: logger)
    }

    /// Models from files and version directories (`ModelConfig`), loaded by `loader` (a model
    /// file's URL → the model; the default reads `.lamina` files). Single-file models and the
    /// versions present in each base directory are loaded before this returns: a model file
    /// that cannot be loaded throws; a version directory that cannot is logged and left out
    /// (status END with its error), as TensorFlow Serving does.
    public init(configs: [ModelConfig], configuration: ServerConfiguration = .init(), logger: Logger? = nil,
                loader: @escaping @Sendable (URL) throws -> InferenceModel = ModelServer.loadLaminaFile) throws {
        self.configuration = configuration
        let (metrics, logger) = (ServerMetrics(), logger ?? Logger(label: "lamina-serve"))
        (self.metrics, self.logger) = (metrics, logger)
        registry = try ModelRegistry(configs: configs, labels: configuration.versionLabels, loader: loader,
                                     makeBatcher: Self.batcherFactory(configuration, metrics), logger: logger)
        try registry.loadFiles()
        registry.poll()
    }

    /// Reads a `.lamina` model file (other formats need a loader that knows them: lamina-serve's reads `.keras` too).
    public static func loadLaminaFile(_ url: URL) throws -> InferenceModel {
        guard url.pathExtension.lowercased() == "lamina" else {
            throw RequestError(400, "\(url.lastPathComponent): this loader reads .lamina files")
        }
        return try InferenceModel.load(url.path)
    }

    static func batcherFactory(_ configuration: ServerConfiguration, _ metrics: ServerMetrics) -> @Sendable (String, InferenceModel) -> DynamicBatcher {
        { name, model in
            DynamicBatcher(model: model, maxBatch: configuration.maxBatch, timeout: configuration.batchTimeout) { samples in
                metrics.recordPredict(model: name, samples: samples)
            }
        }
    }

    /// The Prometheus text exposition of the server's metrics (what `GET /metrics` returns).
    public var metricsText: String { metrics.registry.emitToString() }

    /// The Hummingbird application; `onServerRunning` receives the bound port.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())   // every 4xx, unknown routes included, has an {"error": ...} body
        router.get("healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metricsText)))
        }
        // TF Serving's paths: the model alone (its latest version), a version, or a version label.
        for (suffix, kind) in [("", ServableKind.latest), ("/versions/:version", .version), ("/labels/:label", .label)] {
            let base = "v1/models/:model" + suffix
            router.get(RouterPath(base)) { _, context in
                Self.response(self.status(ServablePath(context, kind)))
            }
            router.get(RouterPath(base + "/metadata")) { _, context in
                Self.response(self.metadata(ServablePath(context, kind)))
            }
            router.post(RouterPath(base)) { request, context in
                let started = ContinuousClock.now
                let path = ServablePath(context, kind)
                let (status, body) = await self.predict(path, request: request)
                // Unknown names are counted under one label, so clients cannot grow the metrics without bound.
                self.metrics.recordRequest(model: self.registry.contains(path.name) ? path.name : "_unknown", code: status,
                                           duration: ContinuousClock.now - started)
                return Self.response(status, body)
            }
        }
        var services: [any Service] = [BatcherService(registry: registry)]
        if let wait = configuration.fileSystemPollWait, wait > .zero, registry.watchesDirectories {
            services.append(ModelWatcher(registry: registry, interval: wait))   // stops first (services stop in reverse order)
        }
        return Application(router: router,
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                                serverName: "lamina-serve"),
                           services: services,
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? -1) },
                           logger: logger)
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run() async throws {
        let app = application { port in self.logger.info("lamina-serve listening on \(self.configuration.host):\(port)") }
        try await app.runService()
    }

    /// The version a path names, with a lease (give it back with `release()`), or the 4xx
    /// that says why none is served there. `verb`: the path's `:verb` suffix (nil for GET
    /// paths), which must be absent for status and metadata.
    func servable(_ path: ServablePath, verb expected: String?) -> Result<ServedVersion, RequestError> {
        if let verb = path.verb {
            guard let expected else {
                return .failure(RequestError(405, "'\(path.last)' is a POST path (POST \(path.description):\(verb)); GET serves the status and /metadata"))
            }
            guard verb == expected else {
                return .failure(RequestError(404, "unknown verb ':\(verb)' in '\(path.last)'; this server answers POST \(path.description):predict"))
            }
        } else if let expected {
            return .failure(RequestError(404, "no verb in '\(path.last)'; POST \(path.description):\(expected)"))
        }
        return path.versionSelector().flatMap { registry.acquire(path.name, $0) }
    }

    /// `GET /v1/models/{name}[/versions/{n} | /labels/{l}]`: TF Serving's model status (every
    /// version known, newest first, or the one named).
    func status(_ path: ServablePath) -> (Int, [UInt8]) {
        if let verb = path.verb {
            return (405, ResponseBody.error("'\(path.last)' is a POST path (POST \(path.description):\(verb)); GET serves the status and /metadata"))
        }
        switch path.versionSelector().flatMap({ registry.statuses(path.name, $0) }) {
        case .failure(let error): return (error.status, ResponseBody.error(error.message))
        case .success(let versions):
            return (200, ResponseBody.json(["model_version_status": versions.map { version -> [String: Any] in
                ["version": String(version.version), "state": version.state.rawValue,
                 "status": ["error_code": version.error == nil ? "OK" : "UNKNOWN", "error_message": version.error ?? ""]]
            }]))
        }
    }

    /// `GET .../metadata`: the signature of the model's inputs and outputs.
    func metadata(_ path: ServablePath) -> (Int, [UInt8]) {
        switch servable(path, verb: nil) {
        case .failure(let error): return (error.status, ResponseBody.error(error.message))
        case .success(let served):
            defer { served.release() }
            return (200, ResponseBody.json(Self.metadata(name: served.name, model: served.model, version: served.version)))
        }
    }

    /// `POST /v1/models/{name}:predict`: status and body.
    func predict(segment: String, request: Request) async -> (Int, [UInt8]) {
        let parts = segment.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return await predict(ServablePath(name: String(parts[0]), kind: .latest, selector: "",
                                          verb: parts.count == 2 ? String(parts[1]) : nil), request: request)
    }

    /// `POST /v1/models/{name}[/versions/{n} | /labels/{l}]:predict`: status and body.
    func predict(_ path: ServablePath, request: Request) async -> (Int, [UInt8]) {
        let served: ServedVersion
        switch servable(path, verb: "predict") {
        case .failure(let error): return (error.status, ResponseBody.error(error.message))
        case .success(let version): served = version
        }
        defer { served.release() }   // the version is kept (not unloaded) until this request is answered
        let batcher = served.batcher
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
            let (names, shapes) = (Self.servedInputNames(batcher.model), batcher.model.inputShapes)
            parsed = try body.withUnsafeReadableBytes { bytes in
                try PredictRequest.parse(bytes: bytes, inputNames: names, inputShapes: shapes)
            }
        } catch {
            batcher.withdraw()
            let error = error as? RequestError ?? RequestError(400, "\(error)")
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

    static func response(_ result: (Int, [UInt8])) -> Response { response(result.0, result.1) }

    static func response(_ status: Int, _ body: [UInt8]) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The names requests use for the model's inputs and responses for its outputs: `input` and
    /// `output` for a model of one each (as before), else the input and output layers' names.
    static func servedInputNames(_ model: InferenceModel) -> [String] { model.inputNames.count == 1 ? ["input"] : model.inputNames }
    static func servedOutputNames(_ model: InferenceModel) -> [String] { model.outputNames.count == 1 ? ["output"] : model.outputNames }

    /// A TensorFlow Serving–style signature: each float input `[-1] + shape` and output by name.
    static func metadata(name: String, model: InferenceModel, version: Int) -> [String: Any] {
        func tensor(_ shape: [Int], _ key: String) -> [String: Any] {
            ["dtype": model.dtype == .float64 ? "DT_DOUBLE" : "DT_FLOAT", "name": key,
             "tensor_shape": ["dim": ([-1] + shape).map { ["size": String($0), "name": ""] }, "unknown_rank": false]]
        }
        let inputs = Dictionary(zip(servedInputNames(model), model.inputShapes).map { ($0, tensor($1, $0)) }, uniquingKeysWith: { a, _ in a })
        let outputs = Dictionary(zip(servedOutputNames(model), model.outputShapes).map { ($0, tensor($1, $0)) }, uniquingKeysWith: { a, _ in a })
        let signature: [String: Any] = ["inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict"]
        // Both names requests may give (TF Serving's default, Keras 3 `model.export`'s), one signature.
        return ["model_spec": ["name": name, "signature_name": "", "version": String(version)],
                "metadata": ["signature_def": ["signature_def": ["serving_default": signature, "serve": signature]]]]
    }
}

/// Which servable a path names: `kind` says whether `selector` is a version or a label.
enum ServableKind: Sendable { case latest, version, label }

/// A model path's parts: `/v1/models/{name}`, `.../versions/{selector}` or `.../labels/{selector}`,
/// and the `:verb` on its last segment, if any.
struct ServablePath: CustomStringConvertible {
    var name: String
    var kind: ServableKind
    var selector: String
    var verb: String?

    init(name: String, kind: ServableKind, selector: String, verb: String?) {
        (self.name, self.kind, self.selector, self.verb) = (name, kind, selector, verb)
    }

    init(_ context: some RequestContext, _ kind: ServableKind) {
        let name = context.parameters.get("model") ?? ""
        let selector = kind == .version ? context.parameters.get("version") ?? "" : kind == .label ? context.parameters.get("label") ?? "" : ""
        self.kind = kind
        // The verb is on the last segment: the model's name, or the version or label.
        let last = kind == .latest ? name : selector
        let parts = last.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let head = String(parts[0])
        verb = parts.count == 2 ? String(parts[1]) : nil
        (self.name, self.selector) = kind == .latest ? (head, "") : (name, head)
    }

    /// The version the path names (a version that is not a number is a 400).
    func versionSelector() -> Result<VersionSelector, RequestError> {
        switch kind {
        case .latest: return .success(.latest)
        case .label: return .success(.label(selector))
        case .version:
            guard !selector.isEmpty, selector.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let version = Int(selector) else {
                return .failure(RequestError(400, "the version in the path must be a number, not '\(selector.prefix(100))'"))
            }
            return .success(.version(version))
        }
    }

    /// The last segment as written (with its verb).
    var last: String { (kind == .latest ? name : selector) + (verb.map { ":\($0)" } ?? "") }

    var description: String {
        "/v1/models/\(name.prefix(200))" + (kind == .version ? "/versions/\(selector.prefix(100))" : kind == .label ? "/labels/\(selector.prefix(100))" : "")
    }
}

/// Answers every error that reaches the router, unknown routes included, with TF Serving's
/// `{"error": "..."}` body.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            let status = Int(error.status.code)
            let message: String
            if error.status == .notFound {
                message = "no route for \(request.method) \(request.uri.path.prefix(200)); this server answers GET /v1/models/NAME[/versions/N | /labels/L][/metadata], POST /v1/models/NAME[/versions/N | /labels/L]:predict, GET /healthz, GET /metrics"
            } else if let http = error as? HTTPError, let body = http.body {
                message = body
            } else {
                message = error.status.reasonPhrase
            }
            return ModelServer.response(status, ResponseBody.error(message))
        }
    }
}

/// Stops the batchers when the service group shuts down (after the HTTP server has finished
/// its requests: services stop in reverse order, and the application's own server is last).
struct BatcherService: Service {
    let registry: ModelRegistry
    func run() async throws {
        try? await gracefulShutdown()
        registry.shutdown()
    }
}

/// Polls the models' base directories every `interval` (TF Serving's
/// `--file_system_poll_wait_seconds`) on a thread of its own, so loading a model never holds up
/// the event loops or the concurrency pool; stops at graceful shutdown.
struct ModelWatcher: Service {
    let registry: ModelRegistry
    let interval: Duration

    func run() async throws {
        let registry = registry
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    registry.poll()
                    continuation.resume()
                }
            }
        }
    }
}

/// The Prometheus metrics of a server.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    // The metrics' names (lamina_metricName_unit) and the help lines the exposition carries
    // (computed: the descriptor type is not Sendable).
    private static func lamina(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "lamina", metricName: name, unitName: unit, helpText: help)
    }
    static var requests: MetricNameDescriptor { lamina("requests", "total", "Requests answered, by model and HTTP status code.") }
    static var requestDuration: MetricNameDescriptor {
        lamina("request_duration", "seconds", "Time from a request's arrival to its response, by model.")
    }
    static var predictCalls: MetricNameDescriptor { lamina("predict_calls", "total", "Batched predict calls made, by model.") }
    static var batchSize: MetricNameDescriptor { lamina("batch", "size", "Samples per batched predict call, by model.") }

    func recordRequest(model: String, code: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.requests, labels: [("model", model), ("code", String(code))]).increment()
        registry.makeDurationHistogram(descriptor: Self.requestDuration, labels: [("model", model)],
                                       buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                                 .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                                 .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
            .record(duration)
    }

    func recordPredict(model: String, samples: Int) {
        registry.makeCounter(descriptor: Self.predictCalls, labels: [("model", model)]).increment()
        registry.makeValueHistogram(descriptor: Self.batchSize, labels: [("model", model)],
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
