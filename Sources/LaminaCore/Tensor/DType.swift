import Foundation

/// The element type of a ``Tensor``, chosen at run time.
///
/// `float32` is the default everywhere; `float64` exists for exact gradient checks and for
/// users who need it; `int32` holds class labels and indices (no arithmetic on it).
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit float (the default), 64-bit float (gradient checks), 32-bit integer (labels, ids).
    case float32, float64, int32

    /// Bytes per element.
    public var byteSize: Int { self == .float64 ? 8 : 4 }
    /// Whether the elements are floats (gradients flow only through those).
    public var isFloatingPoint: Bool { self != .int32 }
    /// The raw value: `float32`, `float64`, `int32`.
    public var description: String { rawValue }
}

/// A Swift type that can be the element of a ``Tensor``: `Float`, `Double` or `Int32`.
public protocol TensorScalar: Numeric, Sendable {
    static var dtype: DType { get }
    /// Converts from Double, the common currency of scalar arguments.
    init(fromDouble value: Double)
    var doubleValue: Double { get }
}

/// A floating-point tensor element with the math the kernels need, so that each kernel is
/// written once and specialized for `Float` and `Double`.
public protocol FloatScalar: TensorScalar, BinaryFloatingPoint {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func erf(_ x: Self) -> Self
}

extension Float: FloatScalar {
    public static var dtype: DType { .float32 }
    @inlinable public init(fromDouble value: Double) { self = Float(value) }
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public static func log(_ x: Float) -> Float { Foundation.log(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { Foundation.log1p(x) }
    @inlinable public static func expm1(_ x: Float) -> Float { Foundation.expm1(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
    @inlinable public static func erf(_ x: Float) -> Float { Foundation.erf(x) }
}

extension Double: FloatScalar {
    public static var dtype: DType { .float64 }
    @inlinable public init(fromDouble value: Double) { self = value }
    @inlinable public var doubleValue: Double { self }
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    @inlinable public static func expm1(_ x: Double) -> Double { Foundation.expm1(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    @inlinable public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
}

extension Int32: TensorScalar {
    public static var dtype: DType { .int32 }
    @inlinable public init(fromDouble value: Double) { self = Int32(value) }
    @inlinable public var doubleValue: Double { Double(self) }
}
