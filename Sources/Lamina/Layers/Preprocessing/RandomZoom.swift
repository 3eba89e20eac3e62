import Foundation

/// Zooms each training image by random factors (Keras: `RandomZoom(height_factor,
/// width_factor=None, fill_mode="reflect")`: a factor f scales by 1 + f — negative zooms in;
/// without `widthFactor` the height's draw is used for both).
public final class RandomZoom: RandomAffineLayer {
    /// The vertical and horizontal zoom factors are drawn from these ranges (nil width: the height's draw is used).
    public let height: (Double, Double), width: (Double, Double)?
    /// Keras: `keras.layers.RandomZoom(height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear")`; zooms by up to ±factor.
    public convenience init(_ heightFactor: Double, widthFactor: Double? = nil, fillMode: FillMode = .reflect,
                            interpolation: Interpolation = .bilinear, seed: UInt64? = nil, fillValue: Double = 0,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(heightFactor: (-Swift.abs(heightFactor), Swift.abs(heightFactor)),
                  widthFactor: widthFactor.map { (-Swift.abs($0), Swift.abs($0)) }, fillMode: fillMode, interpolation: interpolation,
                  seed: seed, fillValue: fillValue, inputShape: inputShape, name: name)
    }
    /// Keras: `RandomZoom(height_factor=(lo, hi), width_factor=(lo, hi))`; a bound of -1 or less is reported through `argumentError`.
    public init(heightFactor: (Double, Double), widthFactor: (Double, Double)? = nil, fillMode: FillMode = .reflect,
                interpolation: Interpolation = .bilinear, seed: UInt64? = nil, fillValue: Double = 0,
                inputShape: [Int]? = nil, name: String? = nil) {
        (height, width) = (heightFactor, widthFactor)
        super.init(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue, seed: seed, name: name, inputShape: inputShape)
        if min(heightFactor.0, heightFactor.1) <= -1 || (widthFactor.map { min($0.0, $0.1) <= -1 } ?? false) {
            reject("zoom factors must be greater than -1")
        }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let h = try range(r.value("height_factor"), r, "height_factor") else { throw r.error("missing 'height_factor'") }
        let w = try range(r.value("width_factor"), r, "width_factor")
        let (fill, interpolation, value, seed) = try affineOptions(r)
        return RandomZoom(heightFactor: h, widthFactor: w, fillMode: fill, interpolation: interpolation, seed: seed,
                          fillValue: value, name: try r.layerName())
    }
    public override func config() throws -> [String: Any] {
        affineConfig().merging(["height_factor": [height.0, height.1], "width_factor": width.map { [$0.0, $0.1] as Any } ?? NSNull()]) { $1 }
    }
    override func transforms(count: Int, height h: Int, width w: Int) -> [[Double]] {
        let hz = uniform(count, 1 + height.0, 1 + height.1)
        let wz = width.map { uniform(count, 1 + $0.0, 1 + $0.1) } ?? hz
        let (halfWidth, halfHeight) = (Double(w - 1) / 2, Double(h - 1) / 2)
        return (0..<count).map { i -> [Double] in
            let (x, y): (Double, Double) = (halfWidth * (1 - wz[i]), halfHeight * (1 - hz[i]))
            return [wz[i], 0, x, 0, hz[i], y, 0, 0]
        }
    }
}
