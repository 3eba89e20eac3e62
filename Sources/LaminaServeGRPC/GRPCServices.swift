import Foundation
import GRPCCore
import GRPCProtobuf
import Lamina
import LaminaServe
import NIOCore
import SwiftProtobuf

/// TensorFlow Serving's `tensorflow.serving.PredictionService` (`Predict`, `GetModelMetadata`)
/// and `tensorflow.serving.ModelService` (`GetModelStatus`) over a `ModelServer`'s models: the
/// same batchers as its REST API, so gRPC and REST requests batch together.
///
/// As TF Serving: `model_spec.version` or `version_label` picks a version (the latest available
/// without either; an unknown version is NOT_FOUND, an unknown label INVALID_ARGUMENT), and
/// responses name the version that answered; under the signature `serving_default` (`serve`, Keras 3's
/// export name, and an empty name are taken too); inputs are named as in the metadata (a model
/// of one input also takes its input layer's name); outputs come back as DT_FLOAT in
/// `float_val`. Bad requests get INVALID_ARGUMENT, unknown models NOT_FOUND.
public struct PredictionService: Tensorflow_Serving_PredictionService.SimpleServiceProtocol {
    let server: ModelServer

    /// The prediction service of `server`'s models.
    public init(server: ModelServer) { self.server = server }

    /// `Predict`: the model's outputs for the request's inputs (through the same batcher as REST).
    public func predict(request: Tensorflow_Serving_PredictRequest, context: ServerContext) async throws -> Tensorflow_Serving_PredictResponse {
        let started = ContinuousClock.now
        let result: Result<Tensorflow_Serving_PredictResponse, RPCError>
        do {
            let prepared = try prepare(request)
            defer { prepared.served.release() }   // the version is kept until this call is answered
            do {
                result = .success(prepared.response(try await prepared.served.batcher.predict(prepared.inputs)))
            } catch {
                result = .failure(rpcError(predicting: error))
            }
        } catch {
            result = .failure(error)
        }
        record(request, started: started, error: result.failure)
        return try result.get()
    }

    /// `Predict` without a Swift task: checks the request where it is called (on `loop`),
    /// queues it on the model's batcher, and calls `completion` on `loop` with the response
    /// (built there, not on the batcher's thread, which goes on to the next batch) or the error.
    func predict(_ request: Tensorflow_Serving_PredictRequest, on loop: any EventLoop,
                 completion: @escaping @Sendable (Result<Tensorflow_Serving_PredictResponse, RPCError>) -> Void) {
        let started = ContinuousClock.now
        let prepared: PreparedPredict
        do {
            prepared = try prepare(request)
        } catch {
            record(request, started: started, error: error)
            return completion(.failure(error))
        }
        prepared.served.batcher.submit(prepared.inputs) { outputs in
            loop.execute {
                let result = outputs.map(prepared.response).mapError(rpcError(predicting:))
                prepared.served.release()
                record(request, started: started, error: result.failure)
                completion(result)
            }
        }
    }

    /// A Predict request checked against its model: the inputs in the model's order and the
    /// version's lease (given back by the caller once answered).
    struct PreparedPredict: Sendable {
        let served: ServedVersion
        let inputs: [Tensor]
        let outputNames: [String]
        let outputFilter: [String]

        /// The response of `outputs` (the model's, in order), filtered as asked.
        func response(_ outputs: [Tensor]) -> Tensorflow_Serving_PredictResponse {
            var response = Tensorflow_Serving_PredictResponse()
            response.modelSpec = PredictionService.modelSpec(served.name, version: served.version)
            for (outputName, output) in zip(outputNames, outputs) where outputFilter.isEmpty || outputFilter.contains(outputName) {
                response.outputs[outputName] = TensorProtoCoding.encode(output)
            }
            return response
        }
    }

    /// Counts a Predict call in `/metrics` (`error`: nil for an answer).
    private func record(_ request: Tensorflow_Serving_PredictRequest, started: ContinuousClock.Instant, error: RPCError?) {
        let code = error.map { Self.httpStatus($0.code) } ?? 200
        server.recordRequest(model: request.modelSpec.name, code: code, duration: ContinuousClock.now - started)
    }

    private func rpcError(predicting error: any Error) -> RPCError {
        switch error {
        case let error as RequestError: return RPCError(code: Self.code(httpStatus: error.status), message: error.message)
        case let error as LaminaError: return RPCError(code: .invalidArgument, message: error.message)
        default:
            server.serverLogger.error("gRPC predict failed: \(error)")
            return RPCError(code: .internalError, message: "prediction failed")
        }
    }

    /// `request` checked and decoded; the version stays leased when this returns.
    private func prepare(_ request: Tensorflow_Serving_PredictRequest) throws(RPCError) -> PreparedPredict {
        let served = try Self.servable(request.hasModelSpec ? request.modelSpec : nil, in: server)
        do {
            return try prepare(request, for: served)
        } catch {
            served.release()
            throw error
        }
    }

    private func prepare(_ request: Tensorflow_Serving_PredictRequest, for served: ServedVersion) throws(RPCError) -> PreparedPredict {
        try Self.checkSignature(request.modelSpec.signatureName)
        let model = served.model
        let inputNames = ModelServer.inputNames(of: model)

        // Each model input by its served name (a single input also by its layer's name).
        var byName = request.inputs
        if inputNames.count == 1, byName[inputNames[0]] == nil, let layerName = model.inputNames.first, let tensor = byName[layerName] {
            byName[inputNames[0]] = tensor
            byName[layerName] = nil
        }
        let extra = byName.keys.filter { !inputNames.contains($0) }.sorted()
        let missing = inputNames.filter { byName[$0] == nil }
        guard extra.isEmpty, missing.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "input size does not match signature: \(byName.count)!=\(inputNames.count) "
                + "len({\(byName.keys.sorted().joined(separator: ","))}) != len({\(inputNames.joined(separator: ","))}). "
                + "Sent extra: {\(extra.joined(separator: ","))}. Missing but required: {\(missing.joined(separator: ","))}.")
        }
        var inputs: [Tensor] = []
        var batch: Int?
        for (inputName, sampleShape) in zip(inputNames, model.inputShapes) {
            let proto = byName[inputName]!
            let shape = try TensorProtoCoding.shape(proto, name: inputName)
            guard shape.count == sampleShape.count + 1, Self.matches(Array(shape.dropFirst()), sampleShape) else {
                throw RPCError(code: .invalidArgument, message: "input '\(inputName)': shape \(shape), expected [batch] + \(sampleShape)")
            }
            guard shape[0] >= 1, shape[0] <= 1 << 16 else {
                throw RPCError(code: .invalidArgument, message: "input '\(inputName)': batch of \(shape[0]); send 1 to \(1 << 16) samples")
            }
            guard batch == nil || batch == shape[0] else {
                throw RPCError(code: .invalidArgument, message: "input '\(inputName)': batch of \(shape[0]), other inputs have \(batch!)")
            }
            batch = shape[0]
            inputs.append(Tensor(shape: shape, scalars: try TensorProtoCoding.values(proto, shape: shape, name: inputName)))
        }

        let outputNames = ModelServer.outputNames(of: model)
        for filter in request.outputFilter where !outputNames.contains(filter) {
            throw RPCError(code: .invalidArgument, message: "output tensor alias not found in signature: \(filter); outputs: \(outputNames.joined(separator: ", "))")
        }
        return PreparedPredict(served: served, inputs: inputs, outputNames: outputNames, outputFilter: request.outputFilter)
    }

    /// `GetModelMetadata`: the `signature_def` of the model's inputs and outputs.
    public func getModelMetadata(request: Tensorflow_Serving_GetModelMetadataRequest, context: ServerContext) async throws -> Tensorflow_Serving_GetModelMetadataResponse {
        try metadata(request)
    }

    /// `GetModelMetadata`'s answer, where it is called.
    func metadata(_ request: Tensorflow_Serving_GetModelMetadataRequest) throws(RPCError) -> Tensorflow_Serving_GetModelMetadataResponse {
        let served = try Self.servable(request.hasModelSpec ? request.modelSpec : nil, in: server)
        defer { served.release() }
        guard !request.metadataField.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "GetModelMetadataRequest must specify at least one metadata_field")
        }
        for field in request.metadataField where field != "signature_def" {
            throw RPCError(code: .invalidArgument, message: "Metadata field \(field) is not supported")
        }
        let model = served.model
        func info(_ servedName: String, _ shape: [Int]) -> Tensorflow_TensorInfo {
            var info = Tensorflow_TensorInfo()
            info.name = servedName
            info.dtype = model.dtype == .float64 ? .dtDouble : .dtFloat
            info.tensorShape = TensorProtoCoding.shapeProto([-1] + shape)
            return info
        }
        var signature = Tensorflow_SignatureDef()
        signature.methodName = "tensorflow/serving/predict"
        for (inputName, shape) in zip(ModelServer.inputNames(of: model), model.inputShapes) { signature.inputs[inputName] = info(inputName, shape) }
        for (outputName, shape) in zip(ModelServer.outputNames(of: model), model.outputShapes) { signature.outputs[outputName] = info(outputName, shape) }
        var map = Tensorflow_Serving_SignatureDefMap()
        map.signatureDef["serving_default"] = signature
        var response = Tensorflow_Serving_GetModelMetadataResponse()
        response.modelSpec = Self.modelSpec(served.name, version: served.version)
        do {
            response.metadata["signature_def"] = try Google_Protobuf_Any(message: map)
        } catch {
            throw RPCError(code: .internalError, message: "cannot encode the signature: \(error)")
        }
        return response
    }

    // MARK: - Shared with ModelService

    /// The version `spec` names, with a lease the caller gives back with `release()`.
    static func servable(_ spec: Tensorflow_Serving_ModelSpec?, in server: ModelServer) throws(RPCError) -> ServedVersion {
        guard let spec, !spec.name.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "Missing ModelSpec: set model_spec.name (this server has \(server.modelNames.joined(separator: ", ")))")
        }
        switch server.registry.acquire(spec.name, selector(spec)) {
        case .success(let served): return served
        case .failure(let error): throw RPCError(code: code(httpStatus: error.status), message: error.message)
        }
    }

    static func selector(_ spec: Tensorflow_Serving_ModelSpec) -> VersionSelector {
        switch spec.versionChoice {
        case .version(let version): .version(Int(clamping: version.value))
        case .versionLabel(let label): .label(label)
        case nil: .latest
        }
    }

    static func checkSignature(_ signature: String) throws(RPCError) {
        guard ["", "serving_default", "serve"].contains(signature) else {
            throw RPCError(code: .invalidArgument, message: "Serving signature name: \"\(signature)\" not found in signature def; use serving_default")
        }
    }

    static func modelSpec(_ name: String, version: Int) -> Tensorflow_Serving_ModelSpec {
        var spec = Tensorflow_Serving_ModelSpec()
        spec.name = name
        spec.version = Google_Protobuf_Int64Value(Int64(version))
        spec.signatureName = "serving_default"
        return spec
    }

    /// A request shape's sample dimensions against the model's (-1 or 0 in the model: any size).
    static func matches(_ shape: [Int], _ expected: [Int]) -> Bool {
        shape.count == expected.count && zip(shape, expected).allSatisfy { $1 <= 0 || $0 == $1 }
    }

    static func code(httpStatus: Int) -> RPCError.Code {
        switch httpStatus {
        case 404: .notFound
        case 413: .resourceExhausted
        case 500: .internalError
        case 503: .unavailable
        case 400..<500: .invalidArgument
        default: .internalError
        }
    }

    /// The HTTP status a gRPC code is counted under in `/metrics`.
    static func httpStatus(_ code: RPCError.Code) -> Int {
        switch code {
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .notFound: 404
        case .resourceExhausted: 413
        case .unavailable: 503
        case .unimplemented: 501
        default: 500
        }
    }
}

/// TensorFlow Serving's `tensorflow.serving.ModelService`: `GetModelStatus` (every version
/// known, newest first, or the one `model_spec` names, with its state and error).
public struct ModelService: Tensorflow_Serving_ModelService.SimpleServiceProtocol {
    let server: ModelServer

    /// The model service of `server`'s models.
    public init(server: ModelServer) { self.server = server }

    /// `GetModelStatus`: each version of the model (or the one `model_spec` names) with its state.
    public func getModelStatus(request: Tensorflow_Serving_GetModelStatusRequest, context: ServerContext) async throws -> Tensorflow_Serving_GetModelStatusResponse {
        try status(request)
    }

    /// `GetModelStatus`'s answer, where it is called.
    func status(_ request: Tensorflow_Serving_GetModelStatusRequest) throws(RPCError) -> Tensorflow_Serving_GetModelStatusResponse {
        guard request.hasModelSpec, !request.modelSpec.name.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "Missing ModelSpec")
        }
        let versions: [VersionStatus]
        switch server.registry.statuses(request.modelSpec.name, PredictionService.selector(request.modelSpec)) {
        case .success(let found): versions = found
        case .failure(let error): throw RPCError(code: PredictionService.code(httpStatus: error.status), message: error.message)
        }
        var response = Tensorflow_Serving_GetModelStatusResponse()
        response.modelVersionStatus = versions.map { version in
            var status = Tensorflow_Serving_ModelVersionStatus()
            status.version = Int64(version.version)
            status.state = switch version.state {
            case .start: .start
            case .loading: .loading
            case .available: .available
            case .unloading: .unloading
            case .end: .end
            }
            status.status = Tensorflow_Serving_StatusProto()
            if let error = version.error {
                status.status.errorCode = .unknown
                status.status.errorMessage = error
            }
            return status
        }
        return response
    }
}

extension Result {
    /// The error, if this is a failure.
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
