import Foundation
import GRPCCore
import Lamina
import LaminaServe
import Logging
import SwiftProtobuf
import Testing
@testable import LaminaServeGRPC

/// A base directory of model versions, `base/v/model.lamina`: version v is the test model built
/// with seed v, so each version answers differently.
struct VersionDirectory {
    let base: URL

    init(versions: [Int]) throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-grpc-versions-\(UUID().uuidString)")
        for v in versions { try add(v) }
    }

    static func model(_ version: Int) -> Sequential {
        Lamina.withRandomSeed(UInt64(version)) {
            Sequential([Input(shape: [8, 8, 1]), Conv2D(4, kernelSize: 3, activation: .relu), MaxPooling2D(), Flatten(), Dense(3, activation: .softmax)])
        }
    }

    /// Version `version`'s answers for `x`.
    static func predict(_ version: Int, _ x: Tensor) throws -> [Float] { try model(version).predict(x).asArray(Float.self) }

    /// Writes version `v` elsewhere, then renames it into the base directory.
    func add(_ v: Int) throws {
        let staging = base.deletingLastPathComponent().appendingPathComponent("staging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        try Self.model(v).save(staging.appendingPathComponent("model.lamina").path)
        try FileManager.default.moveItem(at: staging, to: base.appendingPathComponent(String(v)))
    }

    func remove() { try? FileManager.default.removeItem(at: base) }

    /// A server over this directory under `policy`, polling every 50 ms.
    func server(policy: VersionPolicy, labels: [String: Int] = [:]) throws -> ModelServer {
        try ModelServer(configs: [ModelConfig(name: "m", basePath: base.path, policy: policy, labels: labels)],
                        configuration: .init(port: 0, maxBatch: 8, batchTimeout: .milliseconds(1), fileSystemPollWait: .milliseconds(50)),
                        logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }
}

@Suite(.serialized) struct GRPCVersionTests {
    /// Versions by number and label over gRPC, responses naming the version that answered,
    /// status of every version; a version added while serving shows in gRPC's status and answers.
    @Test func versionsOverGRPC() async throws {
        let directory = try VersionDirectory(versions: [1, 2])
        defer { directory.remove() }
        let running = try await RunningGRPCServer.start(try directory.server(policy: .all, labels: ["stable": 1]))
        let x = Tensor.randomNormal([2, 8, 8, 1], seed: 9)
        try await running.serve { predictions, models in
            func call(_ version: Int64?, label: String? = nil) async throws -> Tensorflow_Serving_PredictResponse {
                var request = predictRequest("m", ["input": tensorProto(x, content: true)])
                if let version { request.modelSpec.version = Google_Protobuf_Int64Value(version) }
                if let label { request.modelSpec.versionLabel = label }
                return try await predictions.predict(request)
            }
            let latest = try await call(nil)
            #expect(latest.modelSpec.version.value == 2)
            expectClose(try floats(latest.outputs["output"]), try VersionDirectory.predict(2, x), "latest")
            let first = try await call(1)
            #expect(first.modelSpec.version.value == 1)
            expectClose(try floats(first.outputs["output"]), try VersionDirectory.predict(1, x), "version 1")
            let stable = try await call(nil, label: "stable")
            #expect(stable.modelSpec.version.value == 1)
            expectClose(try floats(stable.outputs["output"]), try VersionDirectory.predict(1, x), "label stable")
            #expect(try floats(first.outputs["output"]) != (try floats(latest.outputs["output"])), "the versions answer differently")
            #expect(await failure { try await call(3) } == .notFound)
            #expect(await failure { try await call(nil, label: "nope") } == .invalidArgument)

            var metadata = Tensorflow_Serving_GetModelMetadataRequest()
            metadata.modelSpec = spec("m", version: 1)
            metadata.metadataField = ["signature_def"]
            #expect(try await predictions.getModelMetadata(metadata).modelSpec.version.value == 1)

            func states(_ version: Int64? = nil) async throws -> [Int64: Tensorflow_Serving_ModelVersionStatus.State] {
                var request = Tensorflow_Serving_GetModelStatusRequest()
                request.modelSpec = spec("m", version: version)
                let response = try await models.getModelStatus(request)
                return Dictionary(response.modelVersionStatus.map { ($0.version, $0.state) }, uniquingKeysWith: { a, _ in a })
            }
            #expect(try await states() == [1: .available, 2: .available])
            #expect(try await states(2) == [2: .available])
            #expect(await failure { try await states(7) } == .notFound)
            var unknown = Tensorflow_Serving_GetModelStatusRequest()
            unknown.modelSpec = spec("nope")
            #expect(await failure { try await models.getModelStatus(unknown) } == .notFound)

            // Version 3 dropped in while serving: gRPC sees it as soon as the poller loads it.
            try directory.add(3)
            let deadline = ContinuousClock.now + .seconds(60)
            while try await states()[3] != .available && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await states() == [1: .available, 2: .available, 3: .available])
            let third = try await call(nil)
            #expect(third.modelSpec.version.value == 3)
            expectClose(try floats(third.outputs["output"]), try VersionDirectory.predict(3, x), "version 3")
        }
    }
}
