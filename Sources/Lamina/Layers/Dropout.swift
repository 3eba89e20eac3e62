import Foundation

/// Inverted dropout: while training, zeroes each input with probability `rate` and scales
/// the rest by 1/(1 − rate); at inference, the identity. Keras: `Dropout`.
public final class Dropout: Layer, RandomLayer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Dropout(r.double("rate", in: 0...0.999_999), seed: r.optionalInt("seed", minimum: 0).map(UInt64.init), name: r.layerName())
    }
    public let rate: Double
    public let seed: UInt64?
    /// The layer's own generator when seeded (saved with the model to resume exactly).
    var generator: RandomGenerator?

    public init(_ rate: Double, seed: UInt64? = nil, inputShape: [Int]? = nil, name: String? = nil) {
        self.rate = rate
        self.seed = seed
        generator = seed.map { RandomGenerator(seed: $0) }
        super.init(name: name, inputShape: inputShape)
        if !(rate >= 0 && rate < 1) { reject("rate must be in [0, 1), got \(rate)") }
    }

    public override func config() throws -> [String: Any] {
        ["rate": rate, "seed": seed.map { NSNumber(value: $0) } ?? NSNull()]
    }
    public override func checkInputShape(_ shape: [Int]) throws {}

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard training && rate > 0 else { return x }
        return x * dropoutMask(x.shape, rate: rate, dtype: x.dtype, generator: &generator)
    }
}

/// A layer that draws random numbers from its own generator when seeded; model files keep the
/// generator's state so that a resumed run continues exactly.
protocol RandomLayer: Layer {
    var generator: RandomGenerator? { get set }
}

/// Inverted-dropout mask: 0 with probability `rate`, else 1/(1 − rate); from `generator` when
/// the layer is seeded, else from the global generator.
func dropoutMask(_ shape: [Int], rate: Double, dtype: DType, generator: inout RandomGenerator?) -> Tensor {
    let keep = 1 - rate
    let uniform = GlobalRandom.with(&generator) { Tensor.randomUniform(shape, dtype: dtype, using: &$0) }
    return (uniform .< keep) * (1 / keep)
}
