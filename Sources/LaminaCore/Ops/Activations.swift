// Activation functions as pointwise ops with their derivatives. Softmax and logSoftmax,
// which act along an axis, live in Softmax.swift.

struct ReluFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { x > 0 ? x : 0 }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > 0 ? 1 : 0 }
    var derivativeFromOutput: Bool { true }  // relu(x) > 0 exactly where x > 0
}
struct LeakyReluFn: PointwiseFunction {
    let alpha: Double
    func value<T: FloatScalar>(_ x: T) -> T { x > 0 ? x : T(alpha) * x }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > 0 ? 1 : T(alpha) }
}
struct EluFn: PointwiseFunction {
    let alpha: Double
    func value<T: FloatScalar>(_ x: T) -> T { x > 0 ? x : T(alpha) * .expm1(x) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > 0 ? 1 : y + T(alpha) }
}
struct SigmoidFn: PointwiseFunction {
    // Written so that neither branch overflows: exp of a non-positive number only.
    func value<T: FloatScalar>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + .exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { y * (1 - y) }
    var derivativeFromOutput: Bool { true }
}
struct TanhFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T {
        if T.self == Float.self { return T(Float.fastTanh(Float(x))) }
        return .tanh(x)
    }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { 1 - y * y }
    var derivativeFromOutput: Bool { true }
}
struct SoftplusFn: PointwiseFunction {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    func value<T: FloatScalar>(_ x: T) -> T { Swift.max(x, 0) + .log1p(.exp(-Swift.abs(x))) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { SigmoidFn().value(x) }
}

/// Keras's `activations.relu(x, negative_slope, max_value, threshold)`: `min(x, maxValue)` for
/// x > threshold, `negativeSlope·(x − threshold)` below it, 0 at it.
struct ReluOptionsFn: PointwiseFunction {
    let maxValue: Double?, negativeSlope: Double, threshold: Double
    func value<T: FloatScalar>(_ x: T) -> T {
        if x > T(threshold) { return maxValue.map { Swift.min(x, T($0)) } ?? x }
        return x < T(threshold) ? T(negativeSlope) * (x - T(threshold)) : 0
    }
    func derivative<T: FloatScalar>(x: T, y: T) -> T {
        if x > T(threshold) { return maxValue.map { x < T($0) ? 1 : 0 } ?? 1 }
        return x < T(threshold) ? T(negativeSlope) : 0
    }
    /// Without a negative slope the output is min(x, max) above the threshold and 0 at or below
    /// it (threshold ≥ 0), so it tells the same side of both as x does.
    var derivativeFromOutput: Bool { negativeSlope == 0 }
}
/// min(max(x, 0), 6). Keras: `activations.relu6`.
struct Relu6Fn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { Swift.min(Swift.max(x, 0), 6) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > 0 && x < 6 ? 1 : 0 }
    var derivativeFromOutput: Bool { true }  // 0 < relu6(x) < 6 exactly where 0 < x < 6
}
/// relu6(x + 3) / 6. Keras 3: `activations.hard_sigmoid`.
struct HardSigmoidFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { Swift.min(Swift.max(x + 3, 0), 6) / 6 }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > -3 && x < 3 ? 1 / 6 : 0 }
}
/// x · relu6(x + 3) / 6. Keras: `activations.hard_silu` (alias `hard_swish`).
struct HardSiluFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { x * HardSigmoidFn().value(x) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x >= 3 ? 1 : x > -3 ? (2 * x + 3) / 6 : 0 }
}
/// x · tanh(softplus(x)). Keras: `activations.mish`.
struct MishFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { x * .tanh(SoftplusFn().value(x)) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T {
        let t = T.tanh(SoftplusFn().value(x))
        return t + x * (1 - t * t) * SigmoidFn().value(x)
    }
}

extension Tensor {
    /// max(x, 0). Keras: `ops.relu`.
    public func relu() -> Tensor { pointwise("relu", ReluFn()) }
    /// Keras's `activations.relu` with options: `min(x, maxValue)` above `threshold`,
    /// `negativeSlope·(x − threshold)` below it (the `ReLU` layer).
    public func relu(maxValue: Double?, negativeSlope: Double = 0, threshold: Double = 0) -> Tensor {
        if negativeSlope == 0 && threshold == 0 {  // the plain forms run their own kernels
            if maxValue == nil { return relu() }
            if maxValue == 6 { return relu6() }  // MobileNets' ReLU(6.0)
        }
        return pointwise("relu", ReluOptionsFn(maxValue: maxValue, negativeSlope: negativeSlope, threshold: threshold))
    }
    /// min(max(x, 0), 6). Keras: `activations.relu6`.
    public func relu6() -> Tensor { pointwise("relu6", Relu6Fn()) }
    /// relu6(x + 3) / 6 (Keras 3's definition). Keras: `activations.hard_sigmoid`.
    public func hardSigmoid() -> Tensor { pointwise("hardSigmoid", HardSigmoidFn()) }
    /// x · hardSigmoid(x). Keras: `activations.hard_silu` / `hard_swish`.
    public func hardSilu() -> Tensor { pointwise("hardSilu", HardSiluFn()) }
    /// x · tanh(softplus(x)). Keras: `activations.mish`.
    public func mish() -> Tensor { pointwise("mish", MishFn()) }
    /// `x` for x > 0, `alpha·x` otherwise.
    public func leakyRelu(alpha: Double = 0.3) -> Tensor { pointwise("leakyRelu", LeakyReluFn(alpha: alpha)) }
    /// `x` for x > 0, `alpha·(eˣ − 1)` otherwise.
    public func elu(alpha: Double = 1) -> Tensor { pointwise("elu", EluFn(alpha: alpha)) }
    /// 1 / (1 + e⁻ˣ). Keras: `ops.sigmoid`.
    public func sigmoid() -> Tensor { pointwise("sigmoid", SigmoidFn()) }
    /// The hyperbolic tangent. Keras: `ops.tanh`.
    public func tanh() -> Tensor { pointwise("tanh", TanhFn()) }
    /// log(1 + eˣ), computed stably. Keras: `ops.softplus`.
    public func softplus() -> Tensor { pointwise("softplus", SoftplusFn()) }
}

extension Float {
    /// tanh as a rational function that vectorizes (the approximation Eigen and TensorFlow use
    /// for float32): within 6 ulp (3.2e-7 absolute) of the true value everywhere (measured in
    /// ElementwiseTests), and several times faster than libm's `tanhf`.
    @inline(__always) static func fastTanh(_ x: Float) -> Float {
        let v = Swift.min(Swift.max(x, -7.90531110763549805), 7.90531110763549805)
        let x2 = v * v
        var p: Float = -2.76076847742355e-16
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 - 8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        var q: Float = 1.19825839466702e-06
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return Swift.abs(x) < 0.0004 ? x : v * p / q
    }
}
