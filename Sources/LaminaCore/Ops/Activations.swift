// Activation functions as pointwise ops with their derivatives. Softmax and logSoftmax,
// which act along an axis, live in Softmax.swift.

struct ReluFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { x > 0 ? x : 0 }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > 0 ? 1 : 0 }
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
}
struct TanhFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T {
        if T.self == Float.self { return T(Float.fastTanh(Float(x))) }
        return .tanh(x)
    }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { 1 - y * y }
}
struct SoftplusFn: PointwiseFunction {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    func value<T: FloatScalar>(_ x: T) -> T { Swift.max(x, 0) + .log1p(.exp(-Swift.abs(x))) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { SigmoidFn().value(x) }
}

extension Tensor {
    public func relu() -> Tensor { pointwise("relu", ReluFn()) }
    /// `x` for x > 0, `alpha·x` otherwise.
    public func leakyRelu(alpha: Double = 0.3) -> Tensor { pointwise("leakyRelu", LeakyReluFn(alpha: alpha)) }
    /// `x` for x > 0, `alpha·(eˣ − 1)` otherwise.
    public func elu(alpha: Double = 1) -> Tensor { pointwise("elu", EluFn(alpha: alpha)) }
    public func sigmoid() -> Tensor { pointwise("sigmoid", SigmoidFn()) }
    public func tanh() -> Tensor { pointwise("tanh", TanhFn()) }
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
