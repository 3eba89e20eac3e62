import Foundation

/// How a layer fills a new weight. Keras: `keras.initializers`. Spelled `.glorotUniform`
/// or, where a name arrives as data, `Initializer(named: "glorot_uniform")`.
public struct Initializer: Sendable, Equatable {
    /// Which initializer: Keras's name is the raw value (`"glorot_uniform"`).
    public enum Kind: String, Sendable, CaseIterable {
        /// Uniform in ±√(6 / (fanIn + fanOut)) (Keras's default kernel initializer); normal with stddev √(2 / (fanIn + fanOut)), truncated at two deviations.
        case glorotUniform = "glorot_uniform", glorotNormal = "glorot_normal"
        /// He: uniform in ±√(6 / fanIn), truncated normal with stddev √(2 / fanIn); LeCun normal: stddev √(1 / fanIn).
        case heUniform = "he_uniform", heNormal = "he_normal", lecunNormal = "lecun_normal"
        /// LeCun uniform: ±√(3 / fanIn).
        case lecunUniform = "lecun_uniform"
        /// Constant 0, 1; an orthogonal matrix scaled by `a` (Keras's recurrent default); the constant `a`.
        case zeros, ones, orthogonal, constant
        /// Normal with mean `a` and stddev `b`; uniform in [`a`, `b`).
        case randomNormal = "random_normal", randomUniform = "random_uniform"
        /// Keras's `VarianceScaling(scale, mode, distribution)`: `a` is the scale, `mode` and
        /// `distribution` say which fan and which draw.
        case varianceScaling = "variance_scaling"
    }
    /// `VarianceScaling`'s fan: the inputs, the outputs or their mean.
    public enum FanMode: String, Sendable { case fanIn = "fan_in", fanOut = "fan_out", fanAvg = "fan_avg" }
    /// `VarianceScaling`'s draw.
    public enum Distribution: String, Sendable {
        /// Normal truncated at two standard deviations (Keras's default), plain normal, or uniform.
        case truncatedNormal = "truncated_normal", untruncatedNormal = "untruncated_normal", uniform
    }
    /// Which initializer this is.
    public let kind: Kind
    /// mean/stddev for random_normal, minval/maxval for random_uniform, the value for constant.
    public let a: Double, b: Double
    /// A seed for this initializer's draws; nil draws from the layer's or the default generator.
    public let seed: UInt64?
    /// For `.varianceScaling` only.
    public let mode: FanMode, distribution: Distribution

    /// An initializer of `kind` with its numbers (`a`, `b`: see `kind`), seed and, for
    /// `.varianceScaling`, fan mode and distribution. The static members spell the common ones.
    public init(_ kind: Kind, _ a: Double = 0, _ b: Double = 0, seed: UInt64? = nil,
                mode: FanMode = .fanIn, distribution: Distribution = .truncatedNormal) {
        (self.kind, self.a, self.b, self.seed) = (kind, a, b, seed)
        (self.mode, self.distribution) = (mode, distribution)
    }

    /// Keras: `keras.initializers.VarianceScaling(scale, mode, distribution)` (the scale is stored in `a`).
    public static func varianceScaling(scale: Double = 1, mode: FanMode = .fanIn, distribution: Distribution = .truncatedNormal,
                                       seed: UInt64? = nil) -> Initializer {
        Initializer(.varianceScaling, scale, 0, seed: seed, mode: mode, distribution: distribution)
    }

    /// Keras: `"glorot_uniform"`, the default for kernels.
    public static let glorotUniform = Initializer(.glorotUniform)
    /// Keras: `"glorot_normal"`.
    public static let glorotNormal = Initializer(.glorotNormal)
    /// Keras: `"he_uniform"`.
    public static let heUniform = Initializer(.heUniform)
    /// Keras: `"he_normal"`.
    public static let heNormal = Initializer(.heNormal)
    /// Keras: `"lecun_normal"` (for selu networks).
    public static let lecunNormal = Initializer(.lecunNormal)
    /// Keras: `"lecun_uniform"`.
    public static let lecunUniform = Initializer(.lecunUniform)
    /// Keras: `"zeros"`, the default for biases.
    public static let zeros = Initializer(.zeros)
    /// Keras: `"ones"` (BatchNormalization's gamma and moving variance).
    public static let ones = Initializer(.ones)
    /// Keras: `"orthogonal"` (gain 1), the default for recurrent kernels.
    public static let orthogonal = Initializer(.orthogonal, 1)
    /// Keras defaults: mean 0, stddev 0.05.
    public static let randomNormal = Initializer(.randomNormal, 0, 0.05)
    /// Keras defaults: minval −0.05, maxval 0.05.
    public static let randomUniform = Initializer(.randomUniform, -0.05, 0.05)
    /// Every element `value`. Keras: `keras.initializers.Constant(value)`.
    public static func constant(_ value: Double) -> Initializer { Initializer(.constant, value) }
    /// Normal draws. Keras: `keras.initializers.RandomNormal(mean=0.0, stddev=0.05, seed=None)`.
    public static func randomNormal(mean: Double = 0, stddev: Double = 0.05, seed: UInt64? = nil) -> Initializer {
        Initializer(.randomNormal, mean, stddev, seed: seed)
    }
    /// Uniform draws in [minval, maxval). Keras: `keras.initializers.RandomUniform(minval=-0.05, maxval=0.05, seed=None)`.
    public static func randomUniform(minval: Double = -0.05, maxval: Double = 0.05, seed: UInt64? = nil) -> Initializer {
        Initializer(.randomUniform, minval, maxval, seed: seed)
    }

    /// The Keras name, e.g. `"he_normal"`; throws for names Lamina does not have.
    public init(named name: String) throws {
        guard let kind = Kind(rawValue: name) else {
            throw LaminaError.configuration("unknown initializer '\(name)'; known: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = kind == .randomNormal ? .randomNormal : kind == .randomUniform ? .randomUniform
            : kind == .orthogonal ? .orthogonal : kind == .varianceScaling ? .varianceScaling() : Initializer(kind)
    }

    /// Keras's fans: for a kernel (kh, kw, in, out) the receptive field multiplies both.
    static func fans(_ shape: [Int]) -> (fanIn: Double, fanOut: Double) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Double(shape[0]), Double(shape[0]))
        case 2: return (Double(shape[0]), Double(shape[1]))
        default:
            let field = Double(shape.dropLast(2).reduce(1, *))
            return (Double(shape[shape.count - 2]) * field, Double(shape[shape.count - 1]) * field)
        }
    }

    /// A new tensor of `shape` drawn from the default generator (or from `seed`).
    public func make(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        var rng = GlobalRandom.make(seed: seed)
        let (fanIn, fanOut) = Self.fans(shape)
        func uniform(_ limit: Double) -> Tensor {
            Tensor.randomUniform(shape, lower: -limit, upper: limit, dtype: dtype, using: &rng)
        }
        // Keras's variance-scaling normals are truncated at two standard deviations, with the
        // stddev corrected by 0.87962566 so the variance is the intended one.
        func truncated(_ variance: Double) -> Tensor {
            let std = (variance).squareRoot() / 0.87962566103423978
            let values = (0..<shape.reduce(1, *)).map { _ -> Double in
                while true { let v = rng.nextNormal(); if Swift.abs(v) <= 2 { return v * std } }
            }
            return Tensor(shape: shape, scalars: values).cast(to: dtype)
        }
        switch kind {
        case .glorotUniform: return uniform((6 / (fanIn + fanOut)).squareRoot())
        case .glorotNormal: return truncated(2 / (fanIn + fanOut))
        case .heUniform: return uniform((6 / fanIn).squareRoot())
        case .heNormal: return truncated(2 / fanIn)
        case .lecunUniform: return uniform((3 / fanIn).squareRoot())
        case .lecunNormal: return truncated(1 / fanIn)
        case .zeros: return .zeros(shape, dtype: dtype)
        case .ones: return .ones(shape, dtype: dtype)
        case .constant: return .full(shape, value: a, dtype: dtype)
        case .randomNormal: return Tensor.randomNormal(shape, mean: a, stddev: b, dtype: dtype, using: &rng)
        case .randomUniform: return Tensor.randomUniform(shape, lower: a, upper: b, dtype: dtype, using: &rng)
        case .orthogonal: return orthogonal(shape, gain: a == 0 ? 1 : a, dtype: dtype, rng: &rng)
        case .varianceScaling:
            let fan = Swift.max(1, mode == .fanIn ? fanIn : mode == .fanOut ? fanOut : (fanIn + fanOut) / 2)
            let variance = a / fan
            switch distribution {
            case .truncatedNormal: return truncated(variance)
            case .untruncatedNormal: return Tensor.randomNormal(shape, mean: 0, stddev: variance.squareRoot(), dtype: dtype, using: &rng)
            case .uniform: return uniform((3 * variance).squareRoot())
            }
        }
    }

    /// Keras's orthogonal initializer: QR of a normal matrix (rows × cols flattened to 2-D),
    /// with the signs of R's diagonal folded into Q so the result is uniformly distributed.
    private func orthogonal(_ shape: [Int], gain: Double, dtype: DType, rng: inout RandomGenerator) -> Tensor {
        let cols = shape.last ?? 1, rows = shape.dropLast().reduce(1, *)
        let (m, n) = (max(rows, cols), min(rows, cols))
        // Gram–Schmidt on the columns of an m×n normal matrix (m ≥ n) gives Q with
        // orthonormal columns and R with a positive diagonal: the sign-corrected QR.
        var a = (0..<m * n).map { _ in rng.nextNormal() }   // column-major: column j at j*m
        for j in 0..<n {
            for _ in 0..<2 {   // twice for numerical orthogonality
                for p in 0..<j {
                    var dot = 0.0
                    for i in 0..<m { dot += a[p * m + i] * a[j * m + i] }
                    for i in 0..<m { a[j * m + i] -= dot * a[p * m + i] }
                }
            }
            var norm = 0.0
            for i in 0..<m { norm += a[j * m + i] * a[j * m + i] }
            norm = norm.squareRoot()
            for i in 0..<m { a[j * m + i] /= norm }
        }
        // Q is m×n; the weight is rows×cols: Q itself if rows ≥ cols, else Qᵀ.
        var w = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            for c in 0..<cols { w[r * cols + c] = gain * (rows >= cols ? a[c * m + r] : a[r * m + c]) }
        }
        return Tensor(shape: shape, scalars: w).cast(to: dtype)
    }
}
