/// One element of a nested array literal: a number or a nested list.
/// It lets `let x: Tensor = [[1, 2], [3, 4]]` build a float32 tensor of shape [2, 2].
public indirect enum TensorLiteral: ExpressibleByArrayLiteral, ExpressibleByFloatLiteral,
    ExpressibleByIntegerLiteral, Sendable {
    case scalar(Double)
    case list([TensorLiteral])

    /// A nested list: `[[1, 2], [3, 4]]`.
    public init(arrayLiteral elements: TensorLiteral...) { self = .list(elements) }
    /// A number.
    public init(floatLiteral value: Double) { self = .scalar(value) }
    /// A whole number.
    public init(integerLiteral value: Int) { self = .scalar(Double(value)) }

    /// The shape and the flat values; stops on ragged nesting.
    func flatten() -> (shape: [Int], values: [Double]) {
        switch self {
        case .scalar(let v): return ([], [v])
        case .list(let items):
            guard let first = items.first?.flatten() else { return ([0], []) }
            var values = first.values
            for item in items.dropFirst() {
                let f = item.flatten()
                precondition(f.shape == first.shape,
                             "Tensor literal: ragged nesting, rows of shape \(first.shape) and \(f.shape)")
                values += f.values
            }
            return ([items.count] + first.shape, values)
        }
    }
}

extension Tensor: ExpressibleByArrayLiteral {
    /// A float32 tensor from a (nested) array literal.
    public init(arrayLiteral elements: TensorLiteral...) {
        let (shape, values) = TensorLiteral.list(elements).flatten()
        self = values.tensor(shape: shape, dtype: .float32)
    }

    /// A tensor of the given dtype from a (nested) array literal:
    /// `Tensor([[1, 2], [3, 4]], dtype: .float64)`.
    public init(_ literal: TensorLiteral, dtype: DType) {
        let (shape, values) = literal.flatten()
        self = values.tensor(shape: shape, dtype: dtype)
    }
}
