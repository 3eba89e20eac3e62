import Foundation

// Keras's preprocessing layers: `Normalization` (with `adapt`), and the image augmentation
// layers, active only in training (identity at inference), seeded like Dropout.

/// Standardizes features: `(x − mean) / max(√variance, 1e-7)` per feature along `axis`
/// (Keras: `Normalization(axis=-1, mean=None, variance=None, invert=False)`). The statistics
/// come from the constructor or from `adapt(_:)` on tensors or a dataset. Weights (not
/// trainable): mean, variance, count.
public final class Normalization: Layer {
    /// The kept axis (statistics per entry along it), counted in the per-sample shape as Keras
    /// counts it with the batch axis: -1 is the last; nil keeps none (one mean for everything).
    public let axis: Int?
    public let invert: Bool
    let givenMean: [Double]?, givenVariance: [Double]?
    public private(set) var mean: Variable?, variance: Variable?, count: Variable?

    public init(axis: Int? = -1, mean: [Double]? = nil, variance: [Double]? = nil, invert: Bool = false,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.axis, self.invert, givenMean, givenVariance) = (axis, invert, mean, variance)
        super.init(name: name, inputShape: inputShape)
        if (mean == nil) != (variance == nil) { reject("give both mean and variance, or neither") }
        if let variance, variance.contains(where: { $0 < 0 || !$0.isFinite }) { reject("variance must be finite and ≥ 0") }
        if let axis, axis == 0 { reject("axis 0 is the batch axis") }
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        var axis: Int? = -1
        if let v = r.value("axis") {
            if let list = v as? [Any] {
                guard list.count <= 1 else { throw r.error("'axis' with several axes is not supported") }
                axis = try list.first.map { item in
                    guard let i = ConfigReader.integer(item) else { throw r.error("'axis' must be integers") }
                    return i
                }
            } else {
                axis = try r.int("axis")
            }
        }
        func numbers(_ key: String) throws -> [Double]? {
            guard let v = r.value(key) else { return nil }
            if let n = v as? NSNumber { return [n.doubleValue] }
            guard let list = v as? [Any] else { throw r.error("'\(key)' must be a number or a list of numbers") }
            return try list.map { item in
                guard let n = item as? NSNumber, n.doubleValue.isFinite else { throw r.error("'\(key)' must hold numbers") }
                return n.doubleValue
            }
        }
        return Normalization(axis: axis, mean: try numbers("mean"), variance: try numbers("variance"),
                             invert: try r.bool("invert", default: false), name: try r.layerName())
    }
    public override func config() throws -> [String: Any] {
        ["axis": axis.map { [$0] as Any } ?? [Any](), "mean": givenMean.map { $0 as Any } ?? NSNull(),
         "variance": givenVariance.map { $0 as Any } ?? NSNull(), "invert": invert]
    }

    /// The per-sample axis kept (nil: none).
    func keptAxis(_ shape: [Int]) throws -> Int? {
        guard let axis else { return nil }
        let a = axis < 0 ? shape.count + 1 + axis : axis
        guard a >= 1 && a <= shape.count else { throw LaminaError.shape("\(name): axis \(axis) does not exist for inputs \(describe(shape))") }
        return a - 1
    }
    func statisticsShape(_ shape: [Int]) throws -> [Int] { try keptAxis(shape).map { [shape[$0]] } ?? [] }

    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        givenMean == nil ? [try statisticsShape(s), try statisticsShape(s), []] : []
    }
    public override func build(inputShape: [Int]) throws {
        let shape = try statisticsShape(inputShape)
        let n = shape.first ?? 1
        if let givenMean, let givenVariance {
            for (label, values) in [("mean", givenMean), ("variance", givenVariance)] where values.count != 1 && values.count != n {
                throw LaminaError.shape("\(name): \(values.count) \(label) values for \(n) features")
            }
            return
        }
        mean = addWeight("mean", shape: shape, initializer: .zeros, trainable: false)
        variance = addWeight("variance", shape: shape, initializer: .ones, trainable: false)
        count = addWeight("count", shape: [], initializer: .zeros, trainable: false)
        count?.kerasByteSize = 8   // an int64 in Keras
    }
    public override func checkInputShape(_ shape: [Int]) throws {
        if let built = inputShape, try statisticsShape(built) != statisticsShape(shape) {
            throw LaminaError.shape("\(name) expects \(describe(built)), got \(describe(shape))")
        }
    }

    /// Sets the mean and variance from `data` (`[n] + sampleShape`), as Keras's `adapt`.
    /// (`import LaminaData` adds `adapt(_:)` on a dataset.)
    public func adapt(_ data: Tensor) throws {
        var given: Tensor? = data
        try adapt(batches: { defer { given = nil }; return given })
    }

    /// Sets the mean and variance from every batch `next` gives (until nil), combining
    /// batches exactly (Chan's parallel update), as Keras's `adapt` on a dataset.
    package func adapt(batches next: () throws -> Tensor?) throws {
        guard givenMean == nil else { throw LaminaError.configuration("\(name) was given its mean and variance; adapt would discard them") }
        var total = 0.0, means: [Double] = [], m2: [Double] = []
        while let x = try next() {
            let sample = Array(x.shape.dropFirst())
            if !isBuilt { try buildIfNeeded(sample, dtype: x.dtype.isFloatingPoint ? x.dtype : .float32) }
            let kept = try keptAxis(sample)
            let features = kept.map { sample[$0] } ?? 1
            let values = x.scalarsAsDouble()
            let stride = kept.map { sample[($0 + 1)...].reduce(1, *) } ?? 1
            var batchCount = [Double](repeating: 0, count: features), batchSum = [Double](repeating: 0, count: features)
            for (i, v) in values.enumerated() {
                let f = kept == nil ? 0 : (i / stride) % features
                batchSum[f] += v
                batchCount[f] += 1
            }
            let n = batchCount[0]
            let batchMean = batchSum.map { $0 / n }
            var batchM2 = [Double](repeating: 0, count: features)
            for (i, v) in values.enumerated() {
                let f = kept == nil ? 0 : (i / stride) % features
                batchM2[f] += (v - batchMean[f]) * (v - batchMean[f])
            }
            if means.isEmpty { (means, m2) = ([Double](repeating: 0, count: features), [Double](repeating: 0, count: features)) }
            for f in 0..<features {
                let delta = batchMean[f] - means[f], combined = total + n
                means[f] += delta * n / combined
                m2[f] += batchM2[f] + delta * delta * total * n / combined
            }
            total += n
        }
        guard total > 0, let mean, let variance, let count else { throw LaminaError.value("\(name).adapt: no data") }
        mean.value = Tensor(shape: mean.shape, scalars: means).cast(to: dtype)
        variance.value = Tensor(shape: variance.shape, scalars: m2.map { $0 / total }).cast(to: dtype)
        count.value = Tensor(shape: [], scalars: [total]).cast(to: dtype)
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let sample = Array(x.shape.dropFirst())
        let kept = try keptAxis(sample)
        var broadcast = [Int](repeating: 1, count: sample.count)
        if let kept { broadcast[kept] = sample[kept] }
        let (m, v): (Tensor, Tensor)
        if let givenMean, let givenVariance {
            let n = kept.map { sample[$0] } ?? 1
            m = Tensor(shape: [n], scalars: givenMean.count == 1 ? Array(repeating: givenMean[0], count: n) : givenMean).cast(to: x.dtype)
            v = Tensor(shape: [n], scalars: givenVariance.count == 1 ? Array(repeating: givenVariance[0], count: n) : givenVariance).cast(to: x.dtype)
        } else {
            (m, v) = (mean!.value, variance!.value)
        }
        let shape = [1] + broadcast
        let scale = v.sqrt().clip(min: 1e-7, max: .greatestFiniteMagnitude).reshaped(to: shape)
        let center = m.reshaped(to: shape)
        return invert ? center + x * scale : (x - center) / scale
    }
}

/// The shared parts of the random image layers: `[batch, height, width, channels]` inputs,
/// Keras's `seed` (the layer's own generator, saved with the model), identity at inference.
public class RandomImageLayer: Layer, RandomLayer {
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

/// Flips each image of a training batch with probability ½ (Keras: `RandomFlip(mode=
/// "horizontal_and_vertical")`; with both, one draw decides both flips).
public final class RandomFlip: RandomImageLayer {
    public enum Mode: String, Sendable { case horizontal, vertical, horizontalAndVertical = "horizontal_and_vertical" }
    public let mode: Mode
    public init(mode: Mode = .horizontalAndVertical, seed: UInt64? = nil, inputShape: [Int]? = nil, name: String? = nil) {
        self.mode = mode
        super.init(seed: seed, name: name, inputShape: inputShape)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let text = try r.string("mode", default: "horizontal_and_vertical")
        guard let mode = Mode(rawValue: text) else { throw r.error("'mode' must be horizontal, vertical or horizontal_and_vertical, got \(text)") }
        _ = r.value("data_format").map { _ in () }
        return RandomFlip(mode: mode, seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init), name: try r.layerName())
    }
    public override func config() throws -> [String: Any] { seedConfig().merging(["mode": mode.rawValue]) { $1 } }
    override func augment(_ x: Tensor) throws -> Tensor {
        let flips = uniform(x.shape[0], 0, 1).map { $0 <= 0.5 }
        guard flips.contains(true) else { return x }
        var flipped = x
        if mode != .vertical { flipped = flipped.reversed(axis: 2) }
        if mode != .horizontal { flipped = flipped.reversed(axis: 1) }
        let mask = Tensor(shape: [x.shape[0], 1, 1, 1], scalars: flips.map { $0 ? 1.0 : 0.0 }).cast(to: x.dtype)
        return flipped * mask + x * (1 - mask)
    }
}

/// Scales each training image's deviation from its per-channel mean by a random factor,
/// then clips to `valueRange` (Keras: `RandomContrast(factor, value_range=(0, 255))`). The
/// factor is drawn from `[1 − lower, 1 + upper]` where `(lower, upper)` is Keras 3's reading of
/// `factor`: a number f gives (0, f) — Keras 3.15's behaviour —, a pair is sorted.
public final class RandomContrast: RandomImageLayer {
    public let lower: Double, upper: Double
    public let valueRange: (Double, Double)
    public convenience init(_ factor: Double, valueRange: (Double, Double) = (0, 255), seed: UInt64? = nil,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(factor: (max(-Swift.abs(factor), 0), Swift.abs(factor)), valueRange: valueRange, seed: seed, inputShape: inputShape, name: name)
        if !(0...1).contains(factor) { reject("factor must be in [0, 1], got \(factor)") }
    }
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

/// How an affine augmentation fills pixels that come from outside the image (Keras's
/// `fill_mode`), and how it samples between pixels (`interpolation`).
public enum FillMode: String, Sendable { case reflect, wrap, constant, nearest }
public enum Interpolation: String, Sendable { case bilinear, nearest }

/// Applies one projective transform per image, as TensorFlow's `ImageProjectiveTransformV3`
/// (which Keras's `affine_transform` calls): output pixel (x, y) samples the input at
/// `((a0·x + a1·y + a2) / k, (b0·x + b1·y + b2) / k)`, `k = c0·x + c1·y + 1`, with the
/// coordinate mapped into the image by `fill` and neighbours outside it read as `fillValue`.
func affineTransform(_ images: Tensor, _ transforms: [[Double]], fill: FillMode, fillValue: Double,
                     interpolation: Interpolation) -> Tensor {
    let (n, h, w, c) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    let input = images.cast(to: .float32).asArray(Float.self)
    func map(_ coordinate: Float, _ length: Int) -> Float {
        let len = Float(length)
        var v = coordinate
        switch fill {
        case .constant: return v
        case .nearest: return min(max(v, 0), len - 1)
        case .reflect:
            if v < 0 {
                if length <= 1 { v = 0 } else {
                    let sz2 = 2 * len
                    if v < sz2 { v = sz2 * Float(Int(-v / sz2)) + v }
                    v = v < -len ? v + sz2 : -v - 1
                }
            } else if v > len - 1 {
                if length <= 1 { v = 0 } else {
                    let sz2 = 2 * len
                    v -= sz2 * Float(Int(v / sz2))
                    if v >= len { v = sz2 - v - 1 }
                }
            }
        case .wrap:
            if v < 0 {
                if length <= 1 { v = 0 } else { let sz = len - 1; v += len * (Float(Int(-v / sz)) + 1) }
            } else if v > len - 1 {
                if length <= 1 { v = 0 } else { let sz = len - 1; v -= len * Float(Int(v / sz)) }
            }
        }
        return min(max(v, 0), len - 1)
    }
    var out = [Float](repeating: 0, count: input.count)
    let fillValue = Float(fillValue)
    for b in 0..<n {
        let t = transforms[transforms.count == 1 ? 0 : b].map { Float($0) }
        func read(_ y: Float, _ x: Float, _ ch: Int) -> Float {
            guard y >= 0, x >= 0, y < Float(h), x < Float(w) else { return fillValue }
            return input[((b * h + Int(y)) * w + Int(x)) * c + ch]
        }
        for oy in 0..<h {
            for ox in 0..<w {
                let (fx, fy) = (Float(ox), Float(oy))
                let k = t[6] * fx + t[7] * fy + 1
                let base = ((b * h + oy) * w + ox) * c
                guard k != 0 else { for ch in 0..<c { out[base + ch] = fillValue }; continue }
                let x = map((t[0] * fx + t[1] * fy + t[2]) / k, w), y = map((t[3] * fx + t[4] * fy + t[5]) / k, h)
                for ch in 0..<c {
                    switch interpolation {
                    case .nearest:
                        out[base + ch] = read(y.rounded(.toNearestOrAwayFromZero), x.rounded(.toNearestOrAwayFromZero), ch)
                    case .bilinear:
                        let (y0, x0) = (y.rounded(.down), x.rounded(.down))
                        let (y1, x1) = (y0 + 1, x0 + 1)
                        let top = (x1 - x) * read(y0, x0, ch) + (x - x0) * read(y0, x1, ch)
                        let bottom = (x1 - x) * read(y1, x0, ch) + (x - x0) * read(y1, x1, ch)
                        out[base + ch] = (y1 - y) * top + (y - y0) * bottom
                    }
                }
            }
        }
    }
    return Tensor(shape: images.shape, scalars: out).cast(to: images.dtype)
}

/// The shared options of Keras's affine augmentations (`fill_mode="reflect"`,
/// `interpolation="bilinear"`, `fill_value=0`). The result is data for the next layer: no
/// gradient flows back through it.
public class RandomAffineLayer: RandomImageLayer {
    public let fillMode: FillMode, interpolation: Interpolation, fillValue: Double
    init(fillMode: FillMode, interpolation: Interpolation, fillValue: Double, seed: UInt64?, name: String?, inputShape: [Int]?) {
        (self.fillMode, self.interpolation, self.fillValue) = (fillMode, interpolation, fillValue)
        super.init(seed: seed, name: name, inputShape: inputShape)
    }
    static func affineOptions(_ r: ConfigReader) throws -> (FillMode, Interpolation, Double, UInt64?) {
        let fill = try r.string("fill_mode", default: "reflect"), interp = try r.string("interpolation", default: "bilinear")
        guard let mode = FillMode(rawValue: fill) else { throw r.error("'fill_mode' must be reflect, wrap, constant or nearest, got \(fill)") }
        guard let interpolation = Interpolation(rawValue: interp) else { throw r.error("'interpolation' must be bilinear or nearest, got \(interp)") }
        _ = r.value("data_format")
        return (mode, interpolation, try r.double("fill_value", default: 0), try r.optionalInt("seed", minimum: 0).map(UInt64.init))
    }
    func affineConfig() -> [String: Any] {
        seedConfig().merging(["fill_mode": fillMode.rawValue, "interpolation": interpolation.rawValue, "fill_value": fillValue]) { $1 }
    }
    /// One transform (8 numbers) per image of a batch of `height` × `width` images.
    func transforms(count: Int, height: Int, width: Int) -> [[Double]] { [] }
    override func augment(_ x: Tensor) throws -> Tensor {
        affineTransform(x, transforms(count: x.shape[0], height: x.shape[1], width: x.shape[2]), fill: fillMode,
                        fillValue: fillValue, interpolation: interpolation)
    }
    /// Keras's reading of a factor: a number f is (−f, f), a pair is (lower, upper).
    static func range(_ value: Any?, _ r: ConfigReader, _ key: String) throws -> (Double, Double)? {
        guard let value else { return nil }
        if let n = value as? NSNumber { return (-Swift.abs(n.doubleValue), Swift.abs(n.doubleValue)) }
        if let list = value as? [NSNumber], list.count == 2 { return (list[0].doubleValue, list[1].doubleValue) }
        throw r.error("'\(key)' must be a number or a pair of numbers")
    }
}

/// Rotates each training image by a random angle of `factor` × 360° (Keras:
/// `RandomRotation(factor, fill_mode="reflect", interpolation="bilinear")`; a number f is
/// (−f, f)).
public final class RandomRotation: RandomAffineLayer {
    public let lower: Double, upper: Double
    public convenience init(_ factor: Double, fillMode: FillMode = .reflect, interpolation: Interpolation = .bilinear,
                            seed: UInt64? = nil, fillValue: Double = 0, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(factor: (-Swift.abs(factor), Swift.abs(factor)), fillMode: fillMode, interpolation: interpolation, seed: seed,
                  fillValue: fillValue, inputShape: inputShape, name: name)
    }
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

/// Shifts each training image by random fractions of its height and width (Keras:
/// `RandomTranslation(height_factor, width_factor, fill_mode="reflect")`).
public final class RandomTranslation: RandomAffineLayer {
    public let height: (Double, Double), width: (Double, Double)
    public convenience init(heightFactor: Double, widthFactor: Double, fillMode: FillMode = .reflect,
                            interpolation: Interpolation = .bilinear, seed: UInt64? = nil, fillValue: Double = 0,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(heightFactor: (-Swift.abs(heightFactor), Swift.abs(heightFactor)), widthFactor: (-Swift.abs(widthFactor), Swift.abs(widthFactor)),
                  fillMode: fillMode, interpolation: interpolation, seed: seed, fillValue: fillValue, inputShape: inputShape, name: name)
    }
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

/// Zooms each training image by random factors (Keras: `RandomZoom(height_factor,
/// width_factor=None, fill_mode="reflect")`: a factor f scales by 1 + f — negative zooms in;
/// without `widthFactor` the height's draw is used for both).
public final class RandomZoom: RandomAffineLayer {
    public let height: (Double, Double), width: (Double, Double)?
    public convenience init(_ heightFactor: Double, widthFactor: Double? = nil, fillMode: FillMode = .reflect,
                            interpolation: Interpolation = .bilinear, seed: UInt64? = nil, fillValue: Double = 0,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(heightFactor: (-Swift.abs(heightFactor), Swift.abs(heightFactor)),
                  widthFactor: widthFactor.map { (-Swift.abs($0), Swift.abs($0)) }, fillMode: fillMode, interpolation: interpolation,
                  seed: seed, fillValue: fillValue, inputShape: inputShape, name: name)
    }
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
