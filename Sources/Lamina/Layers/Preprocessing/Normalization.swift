import Foundation

/// Standardizes features: `(x − mean) / max(√variance, 1e-7)` per feature along `axis`
/// (Keras: `Normalization(axis=-1, mean=None, variance=None, invert=False)`). The statistics
/// come from the constructor or from `adapt(_:)` on tensors or a dataset. Weights (not
/// trainable): mean, variance, count.
public final class Normalization: Layer {
    /// The kept axis (statistics per entry along it), counted in the per-sample shape as Keras
    /// counts it with the batch axis: -1 is the last; nil keeps none (one mean for everything).
    public let axis: Int?
    /// Whether the layer undoes the normalization instead: `x · max(√variance, 1e-7) + mean`. Keras: `invert`.
    public let invert: Bool
    let givenMean: [Double]?, givenVariance: [Double]?
    /// The statistics (not trainable): per-entry mean and variance, and the number of samples `adapt` has seen; nil until built.
    public private(set) var mean: Variable?, variance: Variable?, count: Variable?

    /// Keras: `keras.layers.Normalization(axis=-1, mean=None, variance=None, invert=False)`; give both `mean` and `variance`, or call `adapt(_:)`.
    /// Giving only one of them, a negative or non-finite variance, or axis 0 is reported through `argumentError`.
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
