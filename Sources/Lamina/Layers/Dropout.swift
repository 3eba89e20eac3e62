import Foundation

/// Inverted dropout: while training, zeroes each input with probability `rate` and scales
/// the rest by 1/(1 − rate); at inference, the identity. Keras: `Dropout`.
///
/// `noiseShape` (Keras's `noise_shape`, batch axis included) shares one draw across the axes
/// of size 1: `[nil, 1, 1, 1]` drops whole samples (EfficientNet's drop-connect); nil takes
/// the input's size.
public final class Dropout: Layer, RandomLayer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let noise = r.value("noise_shape") == nil || r.value("noise_shape") is NSNull
            ? nil : try r.ints("noise_shape", allowNull: true, minimum: 1).map { $0 == -1 ? nil : $0 }
        return try Dropout(r.double("rate", in: 0...0.999_999), noiseShape: noise, seed: r.optionalInt("seed", minimum: 0).map(UInt64.init),
                           name: r.layerName())
    }
    /// The mask's shape (batch axis included; nil: the input's size), or nil for the input's.
    public let noiseShape: [Int?]?
    /// The fraction of inputs set to 0 during training (the rest are scaled by 1 / (1 − rate)).
    public let rate: Double
    /// Seeds this layer's own generator; nil draws from the default one.
    public let seed: UInt64?
    /// The layer's own generator when seeded (saved with the model to resume exactly).
    var generator: RandomGenerator?

    /// Keras: `Dropout(rate, noise_shape=None, seed=None)`; a rate outside [0, 1) is an error thrown when the layer is used.
    public init(_ rate: Double, noiseShape: [Int?]? = nil, seed: UInt64? = nil, inputShape: [Int]? = nil, name: String? = nil) {
        self.rate = rate
        self.noiseShape = noiseShape
        self.seed = seed
        generator = seed.map { RandomGenerator(seed: $0) }
        super.init(name: name, inputShape: inputShape)
        if !(rate >= 0 && rate < 1) { reject("rate must be in [0, 1), got \(rate)") }
        if let noiseShape, noiseShape.contains(where: { ($0 ?? 1) < 1 }) { reject("noiseShape sizes must be positive, got \(noiseShape)") }
    }

    public override func config() throws -> [String: Any] {
        var c: [String: Any] = ["rate": rate, "seed": seed.map { NSNumber(value: $0) } ?? NSNull()]
        if let noiseShape { c["noise_shape"] = noiseShape.map { $0.map { $0 as Any } ?? NSNull() } }
        return c
    }
    public override func computeOutputShape(_ shape: [Int]) throws -> [Int] {
        try checkInputShape(shape)
        return shape
    }
    public override func checkInputShape(_ shape: [Int]) throws {
        if let noiseShape {
            let full = [1] + shape
            guard noiseShape.count == full.count, zip(noiseShape, full).allSatisfy({ $0 == nil || $0 == 1 || $0 == $1 }) else {
                throw LaminaError.shape("\(name): noise shape \(noiseShape.map { $0.map(String.init) ?? "None" }) does not fit inputs \(describe(shape))")
            }
        }
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard training && rate > 0 else { return x }
        guard let noiseShape else { return x * dropoutMask(x.shape, rate: rate, dtype: x.dtype, generator: &generator) }
        guard noiseShape.count == x.rank else { throw LaminaError.shape("\(name): noise shape of rank \(noiseShape.count) for inputs \(x.shape)") }
        let shape = zip(noiseShape, x.shape).map { $0 ?? $1 }
        return x * dropoutMask(shape, rate: rate, dtype: x.dtype, generator: &generator)
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
    if dtype == .float32 {
        // The same draws and values as the three ops below, in one pass.
        let (k, scale) = (Float(keep), Float(1 / keep))
        return GlobalRandom.with(&generator) { rng in
            Tensor.build(shape, as: Float.self) { out in
                for i in out.indices { out[i] = Float(rng.nextUnit()) < k ? scale : 0 }
            }
        }
    }
    let uniform = GlobalRandom.with(&generator) { Tensor.randomUniform(shape, dtype: dtype, using: &$0) }
    return (uniform .< keep) * (1 / keep)
}
