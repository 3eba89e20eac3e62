import Foundation

/// Rectified linear unit with Keras's options: `min(x, maxValue)` for x > `threshold`,
/// `negativeSlope·(x − threshold)` below it. Keras: `keras.layers.ReLU`.
public final class ReLU: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try ReLU(maxValue: r.optionalDouble("max_value"), negativeSlope: r.double("negative_slope", default: 0),
                 threshold: r.double("threshold", default: 0), name: r.layerName())
    }

    /// The largest output (`max_value`); nil leaves it unbounded.
    public let maxValue: Double?
    /// The slope below the threshold (`negative_slope`).
    public let negativeSlope: Double
    /// Inputs at or below it give 0 (or the negative slope's line) (`threshold`).
    public let threshold: Double

    /// Keras's `ReLU(max_value=None, negative_slope=0.0, threshold=0.0)`; each must be ≥ 0.
    public init(maxValue: Double? = nil, negativeSlope: Double = 0, threshold: Double = 0,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.maxValue, self.negativeSlope, self.threshold) = (maxValue, negativeSlope, threshold)
        super.init(name: name, inputShape: inputShape)
        if let maxValue, !(maxValue >= 0) { reject("maxValue cannot be negative, got \(maxValue)") }
        if !(negativeSlope >= 0) { reject("negativeSlope cannot be negative, got \(negativeSlope)") }
        if !(threshold >= 0) { reject("threshold cannot be negative, got \(threshold)") }
    }

    /// Keras's `get_config()`: `max_value`, `negative_slope`, `threshold`.
    public override func config() throws -> [String: Any] {
        ["max_value": maxValue.map { $0 as Any } ?? NSNull(), "negative_slope": negativeSlope, "threshold": threshold]
    }
    public override func checkInputShape(_ shape: [Int]) throws {}
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.relu(maxValue: maxValue, negativeSlope: negativeSlope, threshold: threshold)
    }
}
