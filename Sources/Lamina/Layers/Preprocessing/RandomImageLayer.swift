import Foundation

// Keras's image augmentation layers, active only in training (identity at inference), seeded like Dropout.

/// The shared parts of the random image layers: `[batch, height, width, channels]` inputs,
/// Keras's `seed` (the layer's own generator, saved with the model), identity at inference.
public class RandomImageLayer: Layer, RandomLayer {
    /// Seeds the layer's own generator (saved with the model); nil draws from the default generator. Keras: `seed`.
    public let seed: UInt64?
    var generator: RandomGenerator?
    init(seed: UInt64?, name: String?, inputShape: [Int]?) {
        self.seed = seed
        generator = seed.map { RandomGenerator(seed: $0) }
        super.init(name: name, inputShape: inputShape)
    }
    /// `count` uniform numbers in `lower..<upper`.
    func uniform(_ count: Int, _ lower: Double, _ upper: Double) -> [Double] {
        GlobalRandom.with(&generator) { g in (0..<count).map { _ in Double.random(in: 0..<1, using: &g) * (upper - lower) + lower } }
    }
    public override func checkInputShape(_ shape: [Int]) throws {
        guard shape.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(shape))") }
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        try checkInputShape(s)
        return s
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        training ? try augment(x) : x
    }
    func augment(_ x: Tensor) throws -> Tensor { x }
    func seedConfig() -> [String: Any] { ["seed": seed.map { NSNumber(value: $0) } ?? NSNull()] }
}
