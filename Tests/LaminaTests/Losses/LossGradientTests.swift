import Foundation
import Testing
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
