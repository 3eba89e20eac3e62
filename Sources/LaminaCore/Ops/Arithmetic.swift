// + - * / and negation with NumPy broadcasting. The engine reduces each gradient back to
// its operand's shape, so the VJPs below are written for the broadcast shape.

struct AddFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { a + b } }
struct SubFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { a - b } }
struct MulFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { a * b } }
struct DivFn: BinaryFunction { func value<T: FloatScalar>(_ a: T, _ b: T) -> T { a / b } }

extension Tensor {
    /// Element-wise sum, broadcasting as NumPy (`[2, 3] + [3]`). Keras: `ops.add`.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        Kernels.binary(a, b, AddFn(), op: "add").recorded("add", inputs: [a, b]) { g, _ in [g, g] }
    }

    /// Element-wise difference, broadcasting. Keras: `ops.subtract`.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        Kernels.binary(a, b, SubFn(), op: "subtract").recorded("subtract", inputs: [a, b]) { g, needed in
            [g, needed[1] ? -g : nil]
        }
    }

    /// Element-wise product, broadcasting. Keras: `ops.multiply`.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        Kernels.binary(a, b, MulFn(), op: "multiply").recorded("multiply", inputs: [a, b]) { g, needed in
            [needed[0] ? g * b : nil, needed[1] ? g * a : nil]
        }
    }

    /// Element-wise quotient, broadcasting. Keras: `ops.divide`.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = Kernels.binary(a, b, DivFn(), op: "divide")
        return out.recorded("divide", inputs: [a, b]) { g, needed in
            // d(a/b)/db = -a/b² = -out/b
            [needed[0] ? g / b : nil, needed[1] ? -(g * out.detached() / b) : nil]
        }
    }

    /// Element-wise negation. Keras: `ops.negative`.
    public static prefix func - (x: Tensor) -> Tensor { x.pointwise("negate", NegFn()) }

    // Scalars take the tensor's dtype, so `x * 2` works for float32 and float64 alike.
    /// Adds a number to every element (the number takes the tensor's dtype).
    public static func + (a: Tensor, b: Double) -> Tensor { a + .scalar(b, dtype: a.dtype) }
    /// Adds a number to every element.
    public static func + (a: Double, b: Tensor) -> Tensor { .scalar(a, dtype: b.dtype) + b }
    /// Subtracts a number from every element.
    public static func - (a: Tensor, b: Double) -> Tensor { a - .scalar(b, dtype: a.dtype) }
    /// A number minus every element.
    public static func - (a: Double, b: Tensor) -> Tensor { .scalar(a, dtype: b.dtype) - b }
    /// Multiplies every element by a number.
    public static func * (a: Tensor, b: Double) -> Tensor { a * .scalar(b, dtype: a.dtype) }
    /// Multiplies every element by a number.
    public static func * (a: Double, b: Tensor) -> Tensor { .scalar(a, dtype: b.dtype) * b }
    /// Divides every element by a number.
    public static func / (a: Tensor, b: Double) -> Tensor { a / .scalar(b, dtype: a.dtype) }
    /// A number divided by every element.
    public static func / (a: Double, b: Tensor) -> Tensor { .scalar(a, dtype: b.dtype) / b }

    /// `a = a + b` (a new tensor on the tape, not an in-place update).
    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    /// `a = a - b`.
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    /// `a = a * b`.
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    /// `a = a / b`.
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }
}
