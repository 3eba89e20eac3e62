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
    func value<T: FloatScalar>(_ x: T) -> T { .tanh(x) }
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
