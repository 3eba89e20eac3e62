import Lamina
import Logging

/// What another front end over the same models needs (LaminaServeGRPC's gRPC server): the
/// registry, shared so that REST and gRPC requests see the same versions and batch together,
/// the names and metrics.
extension ModelServer {
    /// The served models' names, sorted.
    public var modelNames: [String] { registry.modelNames }

    /// The names requests use for a model's inputs and responses for its outputs (`input` and
    /// `output` for a model of one each, else the layers' names), as the REST API uses them.
    public static func inputNames(of model: InferenceModel) -> [String] { servedInputNames(model) }
    /// The names responses use for the model's outputs (`output` for one, else the layers' names).
    public static func outputNames(of model: InferenceModel) -> [String] { servedOutputNames(model) }

    /// Counts a request in `/metrics` (`code`: an HTTP status; unknown models as `_unknown`).
    public func recordRequest(model name: String, code: Int, duration: Duration) {
        metrics.recordRequest(model: registry.contains(name) ? name : "_unknown", code: code, duration: duration)
    }

    /// The server's logger.
    public var serverLogger: Logger { logger }
}
