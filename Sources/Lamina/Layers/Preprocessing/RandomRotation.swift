import Foundation

/// Rotates each training image by a random angle of `factor` × 360° (Keras:
/// `RandomRotation(factor, fill_mode="reflect", interpolation="bilinear")`; a number f is
/// (−f, f)).
public final class RandomRotation: RandomAffineLayer {
    /// The angle is drawn from `[lower, upper]`, as fractions of a full turn.
    public let lower: Double, upper: Double
    /// Keras: `keras.layers.RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0)`; rotates by up to ±`factor` × 360°.
    public convenience init(_ factor: Double, fillMode: FillMode = .reflect, interpolation: Interpolation = .bilinear,
                            seed: UInt64? = nil, fillValue: Double = 0, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(factor: (-Swift.abs(factor), Swift.abs(factor)), fillMode: fillMode, interpolation: interpolation, seed: seed,
                  fillValue: fillValue, inputShape: inputShape, name: name)
    }
    /// Keras: `RandomRotation(factor=(lower, upper))`; a bound outside [-1, 1] is reported through `argumentError`.
    public init(factor: (Double, Double), fillMode: FillMode = .reflect, interpolation: Interpolation = .bilinear,
                seed: UInt64? = nil, fillValue: Double = 0, inputShape: [Int]? = nil, name: String? = nil) {
        (lower, upper) = (min(factor.0, factor.1), max(factor.0, factor.1))
        super.init(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue, seed: seed, name: name, inputShape: inputShape)
        if lower < -1 || upper > 1 { reject("factor \(factor) must lie in [-1, 1]") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let factor = try range(r.value("factor"), r, "factor") else { throw r.error("missing 'factor'") }
        let (fill, interpolation, value, seed) = try affineOptions(r)
        return RandomRotation(factor: factor, fillMode: fill, interpolation: interpolation, seed: seed, fillValue: value, name: try r.layerName())
    }
    public override func config() throws -> [String: Any] { affineConfig().merging(["factor": [lower, upper]]) { $1 } }
    override func transforms(count: Int, height: Int, width: Int) -> [[Double]] {
        uniform(count, lower * 360, upper * 360).map { degrees in
            let angle = degrees * Double.pi / 180, (c, s) = (cos(angle), sin(angle))
            let (cx, cy) = (0.5 * Double(width - 1), 0.5 * Double(height - 1))
            let (a0, a1, b0, b1) = (c, -s, s, c)
            return [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, 0, 0]
        }
    }
}
