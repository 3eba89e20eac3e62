import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Float64 gradient checks of the losses with respect to the predictions, at points away from
/// their kinks, and their save/load by name.
@Suite struct LossGradientTests {
    static var probabilities: Tensor { Tensor(shape: [3, 4], scalars: [0.2, 0.3, 0.1, 0.4, 0.25, 0.25, 0.3, 0.2, 0.6, 0.1, 0.2, 0.1] as [Double]) }
    static var binary: Tensor { Tensor(shape: [3, 4], scalars: [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0] as [Double]) }

    static var cases: [(String, Tensor, Tensor)] { [
        ("kl_divergence", Tensor(shape: [3, 4], scalars: [0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25] as [Double]), probabilities),
        ("hinge", binary, randn([3, 4], seed: 1, scale: 0.3)),
        ("squared_hinge", binary, randn([3, 4], seed: 2, scale: 0.3)),
        ("categorical_hinge", Tensor(shape: [3, 4], scalars: [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0] as [Double]), randn([3, 4], seed: 3)),
        ("log_cosh", randn([3, 4], seed: 4), randn([3, 4], seed: 5)),
        ("poisson", randn([3, 4], seed: 6).abs(), probabilities),
        ("cosine_similarity", randn([3, 4], seed: 7), randn([3, 4], seed: 8)),
        ("binary_focal_crossentropy", binary, probabilities),
    ] }

    @Test(arguments: 0..<8) func gradientsMatchFiniteDifferences(_ i: Int) throws {
        let (name, yTrue, yPred) = Self.cases[i]
        let loss = try Loss.named(name)
        let result = GradientCheck.run(at: [yPred]) { loss(yTrue, $0[0]) }
        #expect(result.maxRelativeError <= 1e-6, "\(name): \(result)")
        // Saved by name or object, loaded back as the same class.
        #expect(type(of: try Loss.fromConfig(try loss.serialize())) == type(of: loss))
    }

    @Test func focalOptionsRoundTrip() throws {
        let back = try Loss.fromConfig(try BinaryFocalCrossentropy(gamma: 1.5, fromLogits: true).serialize()) as? BinaryFocalCrossentropy
        #expect(back?.gamma == 1.5 && back?.fromLogits == true)
    }
}

/// Weight regularizers: Keras's closed forms, their place in the training loss, and their round trip.
@Suite struct RegularizerTests {
    @Test func penaltiesEnterTheLossAndComeBackFromFiles() throws {
        let model = Lamina.withRandomSeed(3) {
            Sequential([Dense(3, kernelRegularizer: .l2(0.05), biasRegularizer: .l1(0.02), inputShape: [2]),
                        Dense(1, kernelRegularizer: .l1l2(l1: 0.01, l2: 0.03))])
        }
        let w = model.getWeights().map { $0.scalarsAsDouble() }
        let expected = 0.05 * w[0].map { $0 * $0 }.reduce(0, +) + 0.02 * w[1].map(Swift.abs).reduce(0, +)
            + 0.01 * w[2].map(Swift.abs).reduce(0, +) + 0.03 * w[2].map { $0 * $0 }.reduce(0, +)
        let total = model.losses.map { $0.scalarsAsDouble()[0] }.reduce(0, +)
        #expect(Swift.abs(total - expected) < 1e-6 * Swift.max(1, expected))
        // The training loss is the data loss plus the penalties.
        model.compile(optimizer: SGD(learningRate: 0), loss: .mse)
        let (x, y) = (Tensor.randomNormal([4, 2], seed: 4), Tensor.randomNormal([4, 1], seed: 5))
        let data = try model.evaluate(x, y).loss
        let trained = try model.trainOnBatch(x, y).loss
        #expect(Swift.abs(trained - (data + total)) < 1e-5)
        // Saved and loaded with their settings.
        let url = temporaryDirectory().appendingPathComponent("reg.lamina")
        try model.save(url.path)
        let back = try Sequential.load(url.path)
        let first = try #require(back.layers[0] as? Dense), second = try #require(back.layers[1] as? Dense)
        #expect((first.kernelRegularizer as? L2)?.l2 == 0.05 && (first.biasRegularizer as? L1)?.l1 == 0.02)
        #expect((second.kernelRegularizer as? L1L2)?.l1 == 0.01 && (second.kernelRegularizer as? L1L2)?.l2 == 0.03)
        #expect(Swift.abs(back.losses.map { $0.scalarsAsDouble()[0] }.reduce(0, +) - total) < 1e-6)
    }
}
