// Comparisons give masks of 1s and 0s in the operands' dtype (no gradient); maximum,
// minimum and `where` route the gradient by such masks.

struct CompareFn: BinaryFunction {
    enum Kind { case greater, greaterEqual, less, lessEqual, equal, notEqual }
    let kind: Kind
    func value<T: FloatScalar>(_ a: T, _ b: T) -> T {
        let r: Bool
        switch kind {
        case .greater: r = a > b
        case .greaterEqual: r = a >= b
        case .less: r = a < b
        case .lessEqual: r = a <= b
        case .equal: r = a == b
        case .notEqual: r = a != b
        }
        return r ? 1 : 0
    }
}
struct MaximumFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { Swift.max(a, b) } }
struct MinimumFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { Swift.min(a, b) } }
struct SelectFn: BinaryFunction {
    // a packs the mask, b the chosen value: used as where(c, a, b) = c·a + (1−c)·b without
    // multiplying (so an infinite value in the branch not taken cannot make a NaN).
    func value<T: FloatScalar>(_ a: T, _ b: T) -> T { a != 0 ? b : 0 }
}

extension Tensor {
    private func compare(_ other: Tensor, _ kind: CompareFn.Kind, _ op: String) -> Tensor {
        Kernels.binary(self, other, CompareFn(kind: kind), op: op)
    }
    /// 1 where `self > other`, else 0, broadcasting (no gradient). Keras: `ops.greater`.
    public func greater(_ other: Tensor) -> Tensor { compare(other, .greater, "greater") }
    /// 1 where `self >= other`, else 0. Keras: `ops.greater_equal`.
    public func greaterEqual(_ other: Tensor) -> Tensor { compare(other, .greaterEqual, "greaterEqual") }
    /// 1 where `self < other`, else 0. Keras: `ops.less`.
    public func less(_ other: Tensor) -> Tensor { compare(other, .less, "less") }
    /// 1 where `self <= other`, else 0. Keras: `ops.less_equal`.
    public func lessEqual(_ other: Tensor) -> Tensor { compare(other, .lessEqual, "lessEqual") }
    /// 1 where the elements are equal, else 0. Keras: `ops.equal`.
    public func equal(_ other: Tensor) -> Tensor { compare(other, .equal, "equal") }
    /// 1 where the elements differ, else 0. Keras: `ops.not_equal`.
    public func notEqual(_ other: Tensor) -> Tensor { compare(other, .notEqual, "notEqual") }

    /// `a.greater(b)`.
    public static func .> (a: Tensor, b: Tensor) -> Tensor { a.greater(b) }
    /// `a.greaterEqual(b)`.
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { a.greaterEqual(b) }
    /// `a.less(b)`.
    public static func .< (a: Tensor, b: Tensor) -> Tensor { a.less(b) }
    /// `a.lessEqual(b)`.
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { a.lessEqual(b) }
    /// `a.equal(b)`.
    public static func .== (a: Tensor, b: Tensor) -> Tensor { a.equal(b) }
    /// 1 where an element exceeds `b`, else 0.
    public static func .> (a: Tensor, b: Double) -> Tensor { a.greater(.scalar(b, dtype: a.dtype)) }
    /// 1 where an element is below `b`, else 0.
    public static func .< (a: Tensor, b: Double) -> Tensor { a.less(.scalar(b, dtype: a.dtype)) }

    /// Elementwise `condition ? a : b` with broadcasting of all three (NumPy `where`).
    /// `condition` is a mask: nonzero means true.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = Shape.broadcast(a.shape, b.shape), let shape = Shape.broadcast(condition.shape, ab) else {
            preconditionFailure("where: shapes \(condition.shape), \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let c = condition.detached().cast(to: a.dtype)
        let notC = c.equal(.scalar(0, dtype: a.dtype))
        let out = Kernels.binary(c.broadcasted(to: shape).detached(), a.detached(), SelectFn(), op: "where")
            + Kernels.binary(notC, b.detached(), SelectFn(), op: "where")
        return out.recorded("where", inputs: [a, b]) { g, needed in
            [needed[0] ? Kernels.binary(c, g, SelectFn(), op: "where") : nil,
             needed[1] ? Kernels.binary(notC, g, SelectFn(), op: "where") : nil]
        }
    }
}

infix operator .> : ComparisonPrecedence
infix operator .>= : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .<= : ComparisonPrecedence
infix operator .== : ComparisonPrecedence

/// Elementwise maximum with broadcasting; at ties the gradient goes to `a`.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
    Kernels.binary(a, b, MaximumFn(), op: "maximum").recorded("maximum", inputs: [a, b]) { g, _ in
        let mask = a.greaterEqual(b)
        return [g * mask, g * (1 - mask)]
    }
}

/// Elementwise minimum with broadcasting; at ties the gradient goes to `a`.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
    Kernels.binary(a, b, MinimumFn(), op: "minimum").recorded("minimum", inputs: [a, b]) { g, _ in
        let mask = a.lessEqual(b)
        return [g * mask, g * (1 - mask)]
    }
}
