import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Lamina
import LaminaServe
import LaminaServeTestSupport
import Logging
import ServiceLifecycle
import SwiftProtobuf
import Testing
@testable import LaminaServeGRPC

/// A ModelServer with its REST and gRPC APIs started in-process on ephemeral loopback ports.
struct RunningGRPCServer {
    let server: ModelServer
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let restPort: Int
    let grpcPort: Int

    static func start(_ models: [String: InferenceModel], maxBatch: Int = 16, batchTimeout: Duration = .milliseconds(2),
                      grpc: GRPCConfiguration = .init(port: 0)) async throws -> RunningGRPCServer {
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        return try await start(ModelServer(models: models, configuration: .init(port: 0, maxBatch: maxBatch, batchTimeout: batchTimeout), logger: quiet),
                               grpc: grpc)
    }

    /// `server`'s REST and gRPC APIs started (its configuration's port and `grpc`'s should be 0).
    static func start(_ server: ModelServer, grpc: GRPCConfiguration = .init(port: 0)) async throws -> RunningGRPCServer {
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let (ports, continuation) = AsyncStream<(String, Int)>.makeStream()
        let rest = server.application { port in continuation.yield(("rest", port)) }
        let grpcService = GRPCModelService(modelServer: server, configuration: grpc) { port in continuation.yield(("grpc", port)) }
        let group = ServiceGroup(services: [rest, grpcService], gracefulShutdownSignals: [], logger: quiet)
        let task = Task { try await group.run() }
        var found: [String: Int] = [:]
        for await (kind, port) in ports {
            found[kind] = port
            if found.count == 2 { break }
        }
        guard let restPort = found["rest"], let grpcPort = found["grpc"], restPort > 0, grpcPort > 0 else {
            throw RequestError(500, "the server did not start: \(found)")
        }
        return RunningGRPCServer(server: server, group: group, task: task, restPort: restPort, grpcPort: grpcPort)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Runs `body` with clients of both services, then stops the server (also when `body` throws).
    func serve<R: Sendable>(
        _ body: (Tensorflow_Serving_PredictionService.Client<HTTP2ClientTransport.Posix>,
                 Tensorflow_Serving_ModelService.Client<HTTP2ClientTransport.Posix>) async throws -> R
    ) async throws -> R {
        let result: Result<R, any Error>
        do {
            result = .success(try await withClients(body))
        } catch {
            result = .failure(error)
        }
        try await stop()
        return try result.get()
    }

    /// Runs `body` with clients of both services connected to the server.
    func withClients<R: Sendable>(
        _ body: (Tensorflow_Serving_PredictionService.Client<HTTP2ClientTransport.Posix>,
                 Tensorflow_Serving_ModelService.Client<HTTP2ClientTransport.Posix>) async throws -> R
    ) async throws -> R {
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(host: "127.0.0.1", port: grpcPort), transportSecurity: .plaintext)) { client in
            try await body(.init(wrapping: client), .init(wrapping: client))
        }
    }
}

func spec(_ name: String, version: Int64? = nil, signature: String = "") -> Tensorflow_Serving_ModelSpec {
    var spec = Tensorflow_Serving_ModelSpec()
    spec.name = name
    if let version { spec.version = Google_Protobuf_Int64Value(version) }
    spec.signatureName = signature
    return spec
}

/// `x` as a TensorProto in `float_val` or in `tensor_content`.
func tensorProto(_ x: Tensor, content: Bool) -> Tensorflow_TensorProto {
    TensorProtoCoding.encode(x, content: content)
}

func predictRequest(_ name: String, _ inputs: [String: Tensorflow_TensorProto], signature: String = "") -> Tensorflow_Serving_PredictRequest {
    var request = Tensorflow_Serving_PredictRequest()
    request.modelSpec = spec(name, signature: signature)
    request.inputs = inputs
    return request
}

/// The values of an output TensorProto (float_val or tensor_content).
func floats(_ proto: Tensorflow_TensorProto?) throws -> [Float] {
    guard let proto else { return [] }
    return try TensorProtoCoding.decode(proto, name: "output").values
}

func expectClose(_ got: [Float], _ want: [Float], _ what: String) {
    #expect(got.count == want.count, "\(what): \(got.count) values, expected \(want.count)")
    let worst = zip(got, want).map { Swift.abs($0 - $1) / max(1, Swift.abs($1)) }.max() ?? .infinity
    #expect(worst <= 1e-5, "\(what): outputs differ from model.predict by \(worst)")
}

/// The RPCError code a call fails with (nil: it succeeded).
func failure<R>(_ call: () async throws -> R) async -> RPCError.Code? {
    do {
        _ = try await call()
        return nil
    } catch let error as RPCError {
        return error.code
    } catch {
        Issue.record("not an RPCError: \(error)")
        return .unknown
    }
}

@Suite(.serialized) struct GRPCServerTests {
    static func model() throws -> (InferenceModel, Tensor) {
        let model = Lamina.withRandomSeed(3) {
            Sequential([Input(shape: [8, 8, 1]), Conv2D(4, kernelSize: 3, activation: .relu), MaxPooling2D(), Flatten(), Dense(3, activation: .softmax)])
        }
        return (try model.inferenceModel(), Tensor.randomNormal([16, 8, 8, 1], seed: 4))
    }

    /// Predict with float_val and with tensor_content (one client, and 16 at once) gives
    /// model.predict's outputs; metadata and status describe the model.
    @Test func predictMetadataAndStatus() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningGRPCServer.start(["mnist": model])
        try await running.serve { predictions, models in
            let batch = x.sliced(axis: 0, 0..<3)
            let want = try model.predict(batch).asArray(Float.self)
            for content in [false, true] {
                let response = try await predictions.predict(predictRequest("mnist", ["input": tensorProto(batch, content: content)]))
                let output = response.outputs["output"]
                #expect(output?.dtype == .dtFloat)
                #expect(output?.tensorShape.dim.map(\.size) == [3, 3])
                #expect(output?.floatVal.count == 9, "outputs come back in float_val, as TF Serving answers")
                try expectClose(floats(output), want, content ? "tensor_content" : "float_val")
                #expect(response.modelSpec.name == "mnist" && response.modelSpec.version.value == 1)
            }
            // Keras 3's signature name, an explicit version 1, the input layer's own name.
            var request = predictRequest("mnist", [model.inputNames[0]: tensorProto(batch, content: true)], signature: "serve")
            request.modelSpec.version = Google_Protobuf_Int64Value(1)
            try expectClose(floats(try await predictions.predict(request).outputs["output"]), want, "serve signature, layer name")

            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<16 {
                    group.addTask {
                        let one = x.sliced(axis: 0, i..<(i + 1))
                        let response = try await predictions.predict(predictRequest("mnist", ["input": tensorProto(one, content: i % 2 == 0)]))
                        expectClose(try floats(response.outputs["output"]), try model.predict(one).asArray(Float.self), "client \(i)")
                    }
                }
                try await group.waitForAll()
            }

            var metadataRequest = Tensorflow_Serving_GetModelMetadataRequest()
            metadataRequest.modelSpec = spec("mnist")
            metadataRequest.metadataField = ["signature_def"]
            let metadata = try await predictions.getModelMetadata(metadataRequest)
            #expect(metadata.modelSpec.name == "mnist")
            let any = try #require(metadata.metadata["signature_def"])
            #expect(any.typeURL == "type.googleapis.com/tensorflow.serving.SignatureDefMap")
            let map = try Tensorflow_Serving_SignatureDefMap(unpackingAny: any)
            let signature = try #require(map.signatureDef["serving_default"])
            #expect(signature.methodName == "tensorflow/serving/predict")
            #expect(signature.inputs["input"]?.tensorShape.dim.map(\.size) == [-1, 8, 8, 1])
            #expect(signature.inputs["input"]?.dtype == .dtFloat)
            #expect(signature.outputs["output"]?.tensorShape.dim.map(\.size) == [-1, 3])

            var statusRequest = Tensorflow_Serving_GetModelStatusRequest()
            statusRequest.modelSpec = spec("mnist")
            let status = try await models.getModelStatus(statusRequest)
            #expect(status.modelVersionStatus.count == 1)
            #expect(status.modelVersionStatus.first?.version == 1)
            #expect(status.modelVersionStatus.first?.state == .available)
            #expect(status.modelVersionStatus.first?.status.errorCode == .ok)
        }
    }

    /// Each bad request class gets INVALID_ARGUMENT or NOT_FOUND, and the server goes on answering.
    @Test func badRequestsGetErrorStatuses() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningGRPCServer.start(["mnist": model], maxBatch: 0)
        try await running.serve { predictions, models in
            let one = x.sliced(axis: 0, 0..<1)
            let good = tensorProto(one, content: false)
            func predict(_ request: Tensorflow_Serving_PredictRequest) async -> RPCError.Code? {
                await failure { try await predictions.predict(request) }
            }
            #expect(await predict(predictRequest("nope", ["input": good])) == .notFound)
            var wrongVersion = predictRequest("mnist", ["input": good])
            wrongVersion.modelSpec.version = Google_Protobuf_Int64Value(7)
            #expect(await predict(wrongVersion) == .notFound)
            #expect(await predict(predictRequest("", ["input": good])) == .invalidArgument)
            #expect(await predict(predictRequest("mnist", ["input": good], signature: "classify")) == .invalidArgument)
            #expect(await predict(predictRequest("mnist", [:])) == .invalidArgument)
            #expect(await predict(predictRequest("mnist", ["x": good])) == .invalidArgument)
            #expect(await predict(predictRequest("mnist", ["input": good, "extra": good])) == .invalidArgument)

            var badShape = good
            badShape.tensorShape = TensorProtoCoding.shapeProto([1, 8, 8, 2])
            #expect(await predict(predictRequest("mnist", ["input": badShape])) == .invalidArgument)
            var noBatch = good
            noBatch.tensorShape = TensorProtoCoding.shapeProto([8, 8, 1])
            #expect(await predict(predictRequest("mnist", ["input": noBatch])) == .invalidArgument)
            var noShape = good
            noShape.clearTensorShape()
            #expect(await predict(predictRequest("mnist", ["input": noShape])) == .invalidArgument)
            var tooMany = good
            tooMany.floatVal += [1]
            #expect(await predict(predictRequest("mnist", ["input": tooMany])) == .invalidArgument)
            var noValues = good
            noValues.floatVal = []
            #expect(await predict(predictRequest("mnist", ["input": noValues])) == .invalidArgument)
            var shortContent = tensorProto(one, content: true)
            shortContent.tensorContent.removeLast()
            #expect(await predict(predictRequest("mnist", ["input": shortContent])) == .invalidArgument)
            var strings = good
            strings.dtype = .dtString
            #expect(await predict(predictRequest("mnist", ["input": strings])) == .invalidArgument)
            var huge = good
            huge.tensorShape = TensorProtoCoding.shapeProto([1 << 20, 1 << 20, 8, 1])
            #expect(await predict(predictRequest("mnist", ["input": huge])) == .invalidArgument)
            var empty = good
            empty.tensorShape = TensorProtoCoding.shapeProto([0, 8, 8, 1])
            empty.floatVal = []
            #expect(await predict(predictRequest("mnist", ["input": empty])) == .invalidArgument)
            var filtered = predictRequest("mnist", ["input": good])
            filtered.outputFilter = ["logits"]
            #expect(await predict(filtered) == .invalidArgument)

            // One value fills the tensor, as TensorFlow reads a short repeated field.
            var filled = good
            filled.floatVal = [0.5]
            let response = try await predictions.predict(predictRequest("mnist", ["input": filled]))
            let want = try model.predict(Tensor(shape: [1, 8, 8, 1], scalars: [Float](repeating: 0.5, count: 64))).asArray(Float.self)
            expectClose(try floats(response.outputs["output"]), want, "a single float_val")

            var metadataRequest = Tensorflow_Serving_GetModelMetadataRequest()
            metadataRequest.modelSpec = spec("mnist")
            #expect(await failure { try await predictions.getModelMetadata(metadataRequest) } == .invalidArgument)
            metadataRequest.metadataField = ["signature_def"]
            metadataRequest.modelSpec = spec("nope")
            #expect(await failure { try await predictions.getModelMetadata(metadataRequest) } == .notFound)
            var statusRequest = Tensorflow_Serving_GetModelStatusRequest()
            statusRequest.modelSpec = spec("nope")
            #expect(await failure { try await models.getModelStatus(statusRequest) } == .notFound)
            statusRequest.modelSpec = spec("mnist", version: 2)
            #expect(await failure { try await models.getModelStatus(statusRequest) } == .notFound)

            // Still serving.
            let after = try await predictions.predict(predictRequest("mnist", ["input": good]))
            expectClose(try floats(after.outputs["output"]), try model.predict(one).asArray(Float.self), "after the bad requests")
        }
    }

    /// A float64 model answers in DT_DOUBLE (as its metadata says), and a float64 input in
    /// `double_val` or `tensor_content` is taken.
    @Test func float64Model() async throws {
        let built = Sequential([Dense(3, activation: .tanh), Dense(2)])
        let x = Tensor.randomNormal([2, 4], dtype: .float64, seed: 1)
        let want = try built.predict(x).scalarsAsDouble().map { Float($0) }
        let model = try built.inferenceModel()
        let running = try await RunningGRPCServer.start(["f64": model])
        try await running.serve { predictions, _ in
            var asDoubles = Tensorflow_TensorProto()
            asDoubles.dtype = .dtDouble
            asDoubles.tensorShape = TensorProtoCoding.shapeProto([2, 4])
            asDoubles.doubleVal = x.asArray(Double.self)
            var asContent = tensorProto(x.cast(to: .float32), content: true)
            asContent.dtype = .dtDouble
            asContent.tensorContent = Data(x.asArray(Double.self).flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) })
            for input in [asDoubles, asContent, tensorProto(x.cast(to: .float32), content: false)] {
                let output = try await predictions.predict(predictRequest("f64", ["input": input])).outputs["output"]
                #expect(output?.dtype == .dtDouble && output?.doubleVal.count == 4)
                expectClose(try floats(output), want, "float64 model, \(input.dtype)")
            }
        }
    }

    /// A request larger than the stream's flow-control window (1 MiB) arrives whole, and 100
    /// calls in flight on one connection are each answered with their own outputs, on both
    /// transports.
    @Test(arguments: GRPCConfiguration.Transport.allCases)
    func largeRequestsAndManyCallsInFlight(transport: GRPCConfiguration.Transport) async throws {
        let (model, _) = try Self.model()
        let big = Tensor.randomNormal([5000, 8, 8, 1], seed: 5)   // 1.28 MB of tensor_content
        let running = try await RunningGRPCServer.start(["mnist": model], grpc: .init(port: 0, transport: transport))
        try await running.serve { predictions, _ in
            let response = try await predictions.predict(predictRequest("mnist", ["input": tensorProto(big, content: true)]))
            expectClose(try floats(response.outputs["output"]), try model.predict(big).asArray(Float.self), "5000 samples")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<100 {
                    group.addTask {
                        let one = big.sliced(axis: 0, i..<(i + 1))
                        let response = try await predictions.predict(predictRequest("mnist", ["input": tensorProto(one, content: true)]))
                        expectClose(try floats(response.outputs["output"]), try model.predict(one).asArray(Float.self), "call \(i)")
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// A message over `maxRequestBytes` is RESOURCE_EXHAUSTED, and the connection goes on.
    @Test func requestsOverTheLimitAreRefused() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningGRPCServer.start(["mnist": model], grpc: .init(port: 0, maxRequestBytes: 4096))
        try await running.serve { predictions, _ in
            let tooBig = Tensor.randomNormal([100, 8, 8, 1], seed: 6)   // 25.6 KB
            #expect(await failure { try await predictions.predict(predictRequest("mnist", ["input": tensorProto(tooBig, content: true)])) }
                    == .resourceExhausted)
            let one = x.sliced(axis: 0, 0..<1)
            let response = try await predictions.predict(predictRequest("mnist", ["input": tensorProto(one, content: true)]))
            expectClose(try floats(response.outputs["output"]), try model.predict(one).asArray(Float.self), "after the refused call")
        }
    }

    /// Graceful shutdown answers the calls already received (they wait in an open batch), then
    /// stops serving.
    @Test func gracefulShutdownAnswersCallsInFlight() async throws {
        let (model, x) = try Self.model()
        let running = try await RunningGRPCServer.start(["mnist": model], maxBatch: 64, batchTimeout: .seconds(3))
        let probe = try ShutdownProbe(running.server, model: "mnist")
        try await running.withClients { predictions, _ in
            let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        let one = x.sliced(axis: 0, i..<(i + 1))
                        let response = try await predictions.predict(predictRequest("mnist", ["input": tensorProto(one, content: true)]))
                        probe.answer()
                        return (try? floats(response.outputs["output"]))?.count == 3
                    }
                }
                try await probe.waitUntilReached(8)
                await running.group.triggerGracefulShutdown()
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(answered == Array(repeating: true, count: 8))
        }
        try await running.task.value
        let refused = await failure {
            try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(host: "127.0.0.1", port: running.grpcPort), transportSecurity: .plaintext)) { client in
                var options = CallOptions.defaults
                options.timeout = .seconds(5)
                return try await Tensorflow_Serving_PredictionService.Client(wrapping: client)
                    .predict(predictRequest("mnist", ["input": tensorProto(x.sliced(axis: 0, 0..<1), content: true)]), options: options)
            }
        }
        #expect(refused == .unavailable || refused == .deadlineExceeded, "no longer serving: \(String(describing: refused))")
    }

    @Test func halfPrecisionBits() {
        #expect(Float(halfBits: 0x3c00) == 1)
        #expect(Float(halfBits: 0xc000) == -2)
        #expect(Float(halfBits: 0x0001) == 0x1p-24)
        #expect(Float(halfBits: 0x7c00) == .infinity)
        #expect(Float(halfBits: 0x7e00).isNaN)
    }
}
