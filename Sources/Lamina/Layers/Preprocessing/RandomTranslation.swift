import Foundation

/// Shifts each training image by random fractions of its height and width (Keras:
/// `RandomTranslation(height_factor, width_factor, fill_mode="reflect")`).
public final class RandomTranslation: RandomAffineLayer {
    /// The vertical and horizontal shifts are drawn from these ranges, as fractions of the height and width.
    public let height: (Double, Double), width: (Double, Double)
    /// Keras: `keras.layers.RandomTranslation(height_factor, width_factor, fill_mode="reflect", interpolation="bilinear")`; shifts by up to ±factor.
    public convenience init(heightFactor: Double, widthFactor: Double, fillMode: FillMode = .reflect,
                            interpolation: Interpolation = .bilinear, seed: UInt64? = nil, fillValue: Double = 0,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(heightFactor: (-Swift.abs(heightFactor), Swift.abs(heightFactor)), widthFactor: (-Swift.abs(widthFactor), Swift.abs(widthFactor)),
                  fillMode: fillMode, interpolation: interpolation, seed: seed, fillValue: fillValue, inputShape: inputShape, name: name)
    }
    /// Keras: `RandomTranslation(height_factor=(lo, hi), width_factor=(lo, hi))`; a bound outside [-1, 1] is reported through `argumentError`.
    public init(heightFactor: (Double, Double), widthFactor: (Double, Double), fillMode: FillMode = .reflect,
                interpolation: Interpolation = .bilinear, seed: UInt64? = nil, fillValue: Double = 0,
                inputShape: [Int]? = nil, name: String? = nil) {
        (height, width) = (heightFactor, widthFactor)
        super.init(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue, seed: seed, name: name, inputShape: inputShape)
        for f in [heightFactor.0, heightFactor.1, widthFactor.0, widthFactor.1] where !(-1...1).contains(f) {
            reject("translation factors must lie in [-1, 1], got height \(heightFactor), width \(widthFactor)")
            break
        }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let h = try range(r.value("height_factor"), r, "height_factor"), let w = try range(r.value("width_factor"), r, "width_factor") else {
            throw r.error("needs height_factor and width_factor")
        }
        let (fill, interpolation, value, seed) = try affineOptions(r)
        return RandomTranslation(heightFactor: h, widthFactor: w, fillMode: fill, interpolation: interpolation, seed: seed,
                                 fillValue: value, name: try r.layerName())
    }
    public override func config() throws -> [String: Any] {
        affineConfig().merging(["height_factor": [height.0, height.1], "width_factor": [width.0, width.1]]) { $1 }
    }
    override func transforms(count: Int, height h: Int, width w: Int) -> [[Double]] {
        let dy = uniform(count, height.0, height.1).map { $0 * Double(h) }, dx = uniform(count, width.0, width.1).map { $0 * Double(w) }
        return (0..<count).map { [1, 0, -dx[$0], 0, 1, -dy[$0], 0, 0] }
    }
}
