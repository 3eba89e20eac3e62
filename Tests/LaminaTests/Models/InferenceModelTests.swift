import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// A model shared by concurrent tasks (Swift 6 strict concurrency, no `unsafe` escape here):
/// `InferenceModel` is Sendable; run this suite under ThreadSanitizer with
/// `swift test --sanitize=thread --filter InferenceModelTests`.
@Suite struct InferenceModelTests {
    static func trainedModel() throws -> (Sequential, Tensor) {
        let model = Lamina.withRandomSeed(4) {
            Sequential([Input(shape: [8, 8, 1]), Conv2D(4, kernelSize: 3, activation: .relu), BatchNormalization(),
                        MaxPooling2D(), Dropout(0.3), Flatten(), Dense(3, activation: .softmax)])
        }
        model.compile(optimizer: Adam(learningRate: 1e-2), loss: .sparseCategoricalCrossentropy)
        let x = Tensor.randomNormal([48, 8, 8, 1], seed: 5)
        let y = Tensor(shape: [48], scalars: (0..<48).map { Int32($0 % 3) })
        try Lamina.withRandomSeed(6) { _ = try model.fit(x, y, epochs: 2, batchSize: 16, verbose: 0) }
        return (model, x)
    }

    /// 20 rounds of 64 concurrent predictions, each on its own slice, equal the serial ones exactly.
    @Test func concurrentPredictionsEqualSerialOnes() async throws {
        let (model, x) = try Self.trainedModel()
        let snapshot = try model.inferenceModel()
        #expect(snapshot.inputShape == [8, 8, 1] && snapshot.outputShape == [3] && snapshot.parameterCount == model.countParams())
        let slices = (0..<64).map { x.sliced(axis: 0, ($0 % 40)..<($0 % 40 + 1 + $0 % 8)) }
        let serial = try slices.map { try snapshot.predict($0).asArray(Float.self) }
        #expect(try serial[0] == model.predict(slices[0]).asArray(Float.self))
        for _ in 0..<20 {
            let results = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (i, slice) in slices.enumerated() { group.addTask { (i, try snapshot.predict(slice).asArray(Float.self)) } }
                var out = [[Float]](repeating: [], count: slices.count)
                for try await (i, values) in group { out[i] = values }
                return out
            }
            #expect(results == serial)
        }
    }

    /// The original trains while tasks predict with the snapshot: the snapshot's answers never
    /// change, and the trained original's do.
    @Test func trainingTheOriginalLeavesTheSnapshotAlone() async throws {
        let (model, x) = try Self.trainedModel()
        let snapshot = try model.inferenceModel()
        let before = try snapshot.predict(x).asArray(Float.self)
        let y = Tensor(shape: [48], scalars: (0..<48).map { Int32(($0 + 1) % 3) })
        let seen = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var same = true
                    for _ in 0..<10 { same = try snapshot.predict(x).asArray(Float.self) == before && same }
                    return same
                }
            }
            for _ in 0..<5 { _ = try model.trainOnBatch(x, y) }   // meanwhile, here
            return try await group.reduce(true) { $0 && $1 }
        }
        #expect(seen)
        #expect(try model.predict(x).asArray(Float.self) != before)
        #expect(try snapshot.predict(x).asArray(Float.self) == before)
    }

    /// A snapshot needs a built, valid model; a saved model loads as one.
    @Test func snapshotsOfUnbuiltOrBrokenModelsAreErrors() throws {
        #expect(throws: LaminaError.self) { _ = try Sequential([Dense(2)]).inferenceModel() }
        #expect(throws: LaminaError.self) { _ = try Sequential([Dense(2, inputShape: [3]), Dropout(2)]).inferenceModel() }
        let (model, x) = try Self.trainedModel()
        let url = temporaryDirectory().appendingPathComponent("served.lamina")
        try model.save(url.path)
        #expect(try InferenceModel.load(url.path).predict(x).asArray(Float.self) == model.predict(x).asArray(Float.self))
    }
}
