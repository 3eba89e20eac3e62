/// An elementwise `keras.ops` call recorded in a functional model: `x + 3.0`, `x * (1 / 6)` or
/// `a + b` on symbolic tensors, which Keras 3 saves as an operation of module
/// `keras.src.ops.numpy` (class `Add`, `Subtract`, `Multiply`, `Divide`, `TrueDivide`, `Maximum`,
/// `Minimum` or `NotEqual`) whose call arguments
/// mix tensors and numbers: `"args": [<tensor>, 3.0]`. MobileNetV3's hard sigmoid and
/// ConvNeXt's residuals are made of them.
///
/// These share class names with the merge layers (`keras.layers.Add` takes one list), so
/// functional configs dispatch on the module; the layer is not in `LayerRegistry`. Operations
/// hold no weights and Keras does not count them among a model's layers when it writes the
/// weights file, so `.keras` weight groups skip them. Keras: `keras.ops.add(x, 3.0)`.
public final class NumPyOperation: Layer {
    /// The elementwise operations Lamina reads.
    public enum Operation: String, Sendable, CaseIterable {
        /// a + b, a − b, a · b, a / b (Keras's `divide` and `true_divide`).
        case add = "Add", subtract = "Subtract", multiply = "Multiply", divide = "Divide", trueDivide = "TrueDivide"
        /// Element-wise maximum and minimum.
        case maximum = "Maximum", minimum = "Minimum"
        /// 1 where the operands differ, else 0: Keras saves the mask of `Embedding(mask_zero=True)`
        /// as `not_equal(ids, 0)` when a layer takes the mask as an argument (recurrent layers);
        /// Lamina's masks travel with the tensors, so such a node feeds nothing.
        case notEqual = "NotEqual"
    }

    /// The Keras module these operations are saved under.
    public static let module = "keras.src.ops.numpy"

    /// The operation applied.
    public let operation: Operation
    /// The call's positional operands in order: a number, or nil for the next tensor input.
    public let operands: [Double?]

    /// `operation` on `operands`, whose nils take the tensor inputs in order (at least one).
    public init(_ operation: Operation, operands: [Double?], name: String? = nil) {
        self.operation = operation
        self.operands = operands
        super.init(name: name ?? NameScope.unique(NameScope.snakeCase(operation.rawValue)))
        if operands.count != 2 { reject("\(operation.rawValue) takes 2 operands, got \(operands.count)") }
        if !operands.contains(where: { $0 == nil }) { reject("at least one operand must be a tensor") }
        if operands.contains(where: { $0.map { !$0.isFinite } ?? false }) { reject("constant operands must be finite") }
    }

    public override var className: String { operation.rawValue }
    public override class var kerasModule: String { module }

    /// The number of tensor inputs.
    public var tensorCount: Int { operands.filter { $0 == nil }.count }

    /// Keras's serialized operation: `{"module": "keras.src.ops.numpy", "class_name": "Add",
    /// "config": {"name": ...}, "registered_name": "Add"}`.
    public func kerasObject() -> [String: Any] {
        ["module": Self.module, "class_name": operation.rawValue, "config": ["name": name], "registered_name": operation.rawValue]
    }

    /// The layer for a saved operation (`object` without its `inbound_nodes`) called with
    /// `args` (tensors, given as nil, and numbers).
    static func make(_ object: [String: Any], operands: [Double?]) throws -> NumPyOperation {
        let className = object["class_name"] as? String ?? "?"
        let config = object["config"] as? [String: Any] ?? [:]
        let name = config["name"] as? String
        guard let operation = Operation(rawValue: className) else {
            throw LaminaError.configuration("\(Self.module).\(className) '\(name ?? "?")': Lamina reads the operations \(Operation.allCases.map(\.rawValue).joined(separator: ", ")) of this module")
        }
        let layer = NumPyOperation(operation, operands: operands, name: name)
        if let error = layer.argumentError { throw error }
        return layer
    }

    /// Operations are saved by functional models only (as `kerasObject()` with their operands
    /// in the call): anywhere else their class name would read back as a merge layer.
    public override func config() throws -> [String: Any] {
        throw LaminaError.configuration("\(name): a \(Self.module).\(operation.rawValue) operation is saved only inside a functional model")
    }

    private func apply(_ inputs: [Tensor]) -> Tensor {
        var next = inputs.makeIterator()
        let dtype = inputs.first?.dtype ?? .float32
        let v = operands.map { $0.map { Tensor.scalar($0, dtype: dtype) } ?? next.next()! }
        switch operation {
        case .add: return v[0] + v[1]
        case .subtract: return v[0] - v[1]
        case .multiply: return v[0] * v[1]
        case .divide, .trueDivide: return v[0] / v[1]
        case .maximum: return LaminaCore.maximum(v[0], v[1])
        case .minimum: return LaminaCore.minimum(v[0], v[1])
        case .notEqual: return v[0].notEqual(v[1])
        }
    }

    public override func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        let shapes = try inputs.map { x -> [Int] in
            guard x.rank >= 1 else { throw LaminaError.shape("\(name) expects batches, got a scalar") }
            return Array(x.shape.dropFirst())
        }
        _ = try buildAll(shapes, dtype: inputs.first?.dtype)
        return [apply(inputs)]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { try callAll([x], training: training)[0] }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        if let argumentError { throw argumentError }
        guard inputShapes.count == tensorCount else {
            throw LaminaError.shape("\(name) (\(className)) takes \(tensorCount) tensor input\(tensorCount == 1 ? "" : "s"), got \(inputShapes.count)")
        }
        // NumPy broadcasting of the per-sample shapes (aligned on the right).
        let rank = inputShapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for shape in inputShapes {
            for (i, d) in ([Int](repeating: 1, count: rank - shape.count) + shape).enumerated() {
                if out[i] == 1 { out[i] = d } else if d != 1 && d != out[i] {
                    throw LaminaError.shape("\(name) (\(className)): operands have incompatible shapes \(inputShapes.map { describe($0) }.joined(separator: " and "))")
                }
            }
        }
        if !isBuilt {
            if let dtype { self.dtype = dtype }
            markBuilt(inputShape: nil, outputShape: out)
        }
        return [out]
    }

    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] { try buildAll([inputShape], dtype: nil)[0] }
}

extension NumPyOperation {
    /// Calls the operation on symbolic tensors, one per nil operand: `op([a, b])`.
    public func callAsFunction(_ inputs: [any SymbolicTensorConvertible]) -> SymbolicTensor {
        callSymbolic(inputs.map(\.symbolic))[0]
    }
}
