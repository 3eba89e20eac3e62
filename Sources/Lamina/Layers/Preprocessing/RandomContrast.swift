import Foundation

/// Scales each training image's deviation from its per-channel mean by a random factor,
/// then clips to `valueRange` (Keras: `RandomContrast(factor, value_range=(0, 255))`). The
/// factor is drawn from `[1 − lower, 1 + upper]` where `(lower, upper)` is Keras 3's reading of
/// `factor`: a number f gives (0, f) — Keras 3.15's behaviour —, a pair is sorted.
public final class RandomContrast: RandomImageLayer {
    /// The contrast factor is drawn from `[1 − lower, 1 + upper]`.
    public let lower: Double, upper: Double
    /// The pixel range outputs are clipped to (Keras `value_range`, default (0, 255)).
    public let valueRange: (Double, Double)
    /// Keras: `keras.layers.RandomContrast(factor, value_range=(0, 255), seed=None)`; a `factor` outside [0, 1] is reported through `argumentError`.
    public convenience init(_ factor: Double, valueRange: (Double, Double) = (0, 255), seed: UInt64? = nil,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(factor: (max(-Swift.abs(factor), 0), Swift.abs(factor)), valueRange: valueRange, seed: seed, inputShape: inputShape, name: name)
        if !(0...1).contains(factor) { reject("factor must be in [0, 1], got \(factor)") }
    }
    /// Keras: `RandomContrast(factor=(lower, upper))`; a factor outside [0, 1] or a `valueRange` that does not increase is reported through `argumentError`.
    public init(factor: (Double, Double), valueRange: (Double, Double) = (0, 255), seed: UInt64? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        (lower, upper) = (min(factor.0, factor.1), max(factor.0, factor.1))
        self.valueRange = valueRange
        super.init(seed: seed, name: name, inputShape: inputShape)
        if lower > 1 || upper < 0 { reject("factor \(factor) must lie in [0, 1]") }
        if !(valueRange.0 < valueRange.1) { reject("valueRange \(valueRange) must be increasing") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let value = r.value("factor") else { throw r.error("missing 'factor'") }
        let factor: (Double, Double)
        if let n = value as? NSNumber { factor = (max(-Swift.abs(n.doubleValue), 0), Swift.abs(n.doubleValue)) }
        else if let list = value as? [NSNumber], list.count == 2 { factor = (list[0].doubleValue, list[1].doubleValue) }
        else { throw r.error("'factor' must be a number or a pair") }
        var range = (0.0, 255.0)
        if let v = r.value("value_range") as? [NSNumber], v.count == 2 { range = (v[0].doubleValue, v[1].doubleValue) }
        _ = r.value("data_format")
        return RandomContrast(factor: factor, valueRange: range, seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init),
                              name: try r.layerName())
    }
    public override func config() throws -> [String: Any] {
        seedConfig().merging(["factor": [lower, upper], "value_range": [valueRange.0, valueRange.1]]) { $1 }
    }
    override func augment(_ x: Tensor) throws -> Tensor {
        let factors = Tensor(shape: [x.shape[0], 1, 1, 1], scalars: uniform(x.shape[0], 1 - lower, 1 + upper)).cast(to: x.dtype)
        let mean = x.mean(axes: [1, 2], keepDims: true)
        return ((x - mean) * factors + mean).clip(min: valueRange.0, max: valueRange.1)
    }
}
