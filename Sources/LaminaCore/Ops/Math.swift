// Pointwise math. Each function states its value and its derivative side by side; the
// shared `pointwise` records the fused backward g · f'(x, y).

struct NegFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { -x }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { -1 }
}
struct SquareFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { x * x }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { 2 * x }
}
struct SqrtFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { x.squareRoot() }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { 1 / (2 * y) }
    var derivativeFromOutput: Bool { true }
}
struct ExpFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { .exp(x) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { y }
    var derivativeFromOutput: Bool { true }
}
struct LogFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { .log(x) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { 1 / x }
}
struct AbsFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { Swift.abs(x) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}
struct ErfFn: PointwiseFunction {
    func value<T: FloatScalar>(_ x: T) -> T { .erf(x) }
    // d/dx erf(x) = 2/√π · e^(−x²)
    func derivative<T: FloatScalar>(x: T, y: T) -> T { T(1.1283791670955126) * .exp(-x * x) }
}
struct PowScalarFn: PointwiseFunction {
    let p: Double
    func value<T: FloatScalar>(_ x: T) -> T { .pow(x, T(p)) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { T(p) * .pow(x, T(p - 1)) }
}
struct ClipFn: PointwiseFunction {
    let lower: Double, upper: Double
    func value<T: FloatScalar>(_ x: T) -> T { Swift.min(Swift.max(x, T(lower)), T(upper)) }
    func derivative<T: FloatScalar>(x: T, y: T) -> T { x >= T(lower) && x <= T(upper) ? 1 : 0 }
}

extension Tensor {
    /// Applies `f` element by element and records its fused VJP. The building block for
    /// custom pointwise ops: implement ``PointwiseFunction`` and call this.
    public func pointwise<F: PointwiseFunction>(_ op: String, _ f: F) -> Tensor {
        let out = Kernels.map(self, f, op: op)
        guard GradMode.isEnabled && requiresGrad else { return out }
        let y = out.detached(), x = f.derivativeFromOutput ? y : detached()
        return out.recorded(op, inputs: [self]) { g, _ in [Kernels.mapGradient(g, x: x, y: y, f)] }
    }

    /// Element-wise x². Keras: `ops.square`.
    public func square() -> Tensor { pointwise("square", SquareFn()) }
    /// Element-wise √x. Keras: `ops.sqrt`.
    public func sqrt() -> Tensor { pointwise("sqrt", SqrtFn()) }
    /// Element-wise eˣ. Keras: `ops.exp`.
    public func exp() -> Tensor { pointwise("exp", ExpFn()) }
    /// Element-wise natural logarithm. Keras: `ops.log`.
    public func log() -> Tensor { pointwise("log", LogFn()) }
    /// Element-wise |x| (gradient sign(x), 0 at 0). Keras: `ops.abs`.
    public func abs() -> Tensor { pointwise("abs", AbsFn()) }
    /// The Gauss error function.
    public func erf() -> Tensor { pointwise("erf", ErfFn()) }
    /// Elementwise `x^p` for a constant exponent.
    public func pow(_ p: Double) -> Tensor { pointwise("pow", PowScalarFn(p: p)) }
    /// Values limited to `[min, max]`; the gradient is zero outside.
    public func clip(min lower: Double, max upper: Double) -> Tensor {
        precondition(lower <= upper, "clip: min \(lower) is greater than max \(upper)")
        return pointwise("clip", ClipFn(lower: lower, upper: upper))
    }
}

struct PowFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { .pow(a, b) } }

/// Elementwise `a^b` with broadcasting. d/da = b·a^(b−1), d/db = a^b·log(a) (needs a > 0).
public func pow(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = Kernels.binary(a, b, PowFn(), op: "pow")
    return out.recorded("pow", inputs: [a, b]) { g, needed in
        let y = out.detached()
        return [needed[0] ? g * b * pow(a, b - 1) : nil, needed[1] ? g * y * a.log() : nil]
    }
}
