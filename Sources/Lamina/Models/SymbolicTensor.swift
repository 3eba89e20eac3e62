/// A placeholder for a batch that flows through a model being defined: what `Input(shape:)`
/// gives and what a layer called on a symbolic tensor returns. Keras: `KerasTensor`.
///
/// ```swift
/// let inputs = Input(shape: [28, 28, 1])
/// let x = Conv2D(32, kernelSize: (3, 3), activation: .relu)(inputs)   // a SymbolicTensor
/// let model = Model(inputs: inputs, outputs: Dense(10)(Flatten()(x)))
/// ```
/// Calling a layer builds it for the incoming shape. A call whose shapes do not fit gives a
/// tensor that carries the error (naming the layer and both shapes); every tensor made from
/// it carries it on, and the `Model` built from it throws it from `fit`, `predict`, `summary`
/// and the rest, as `Sequential.add` does — model definitions stay plain calls, never a crash.
public final class SymbolicTensor: SymbolicTensorConvertible, CustomStringConvertible {
    /// The per-sample shape (the batch axis left out, as layers' shapes are).
    public let shape: [Int]
    /// The element type the layer call produces.
    public let dtype: DType
    /// The error of the call that made this tensor or of one before it.
    public let error: LaminaError?
    /// The call that made this tensor, and which of its outputs it is.
    let node: GraphNode?
    let index: Int

    init(shape: [Int], dtype: DType, node: GraphNode, index: Int) {
        (self.shape, self.dtype, self.node, self.index, self.error) = (shape, dtype, node, index, nil)
    }

    init(error: LaminaError) {
        (self.shape, self.dtype, self.node, self.index, self.error) = ([], .float32, nil, 0, error)
    }

    /// The tensor itself.
    public var symbolic: SymbolicTensor { self }

    /// The layer whose call made this tensor (an `Input` for a model input).
    public var layer: Layer? { node?.layer }

    /// Keras's `<KerasTensor shape=(None, 10), dtype=float32, source=dense>` form, or the error.
    public var description: String {
        if let error { return "<SymbolicTensor error: \(error.message)>" }
        return "<SymbolicTensor shape=\(describe(shape, batch: "None")), dtype=\(dtype.rawValue), source=\(node?.layer.name ?? "?")>"
    }
}

/// What a layer can be called on symbolically: a `SymbolicTensor`, or an `Input` (which
/// stands for its tensor, as `keras.Input` returns one).
public protocol SymbolicTensorConvertible: AnyObject {
    var symbolic: SymbolicTensor { get }
}

/// One call of a layer in a graph: the layer and the symbolic tensors it was called on.
/// Keras: `Node`.
final class GraphNode {
    let layer: Layer
    let inputs: [SymbolicTensor]
    /// The call's arguments where it has keyword arguments (`inputs` are their tensors, in
    /// order); nil for a plain call on `inputs`.
    let arguments: CallArguments<SymbolicTensor>?
    /// Which call of its layer this is (Keras's node index: `shared[1][0]` reads the second call).
    let callIndex: Int
    /// The per-sample shapes of the call's outputs (an `Input`'s: its shape).
    var outputShapes: [[Int]] = []
    init(layer: Layer, inputs: [SymbolicTensor], arguments: CallArguments<SymbolicTensor>? = nil) {
        (self.layer, self.inputs, self.arguments) = (layer, arguments?.tensors ?? inputs, arguments)
        callIndex = layer.symbolicCalls
        layer.symbolicCalls += 1
    }
    /// The nodes whose outputs this call reads.
    var parents: [GraphNode] { inputs.compactMap(\.node) }
}

extension Layer {
    /// Calls the layer on a symbolic tensor (or an `Input`), building it for that shape;
    /// returns the output's symbolic tensor. Keras: `layer(x)` on a `KerasTensor`.
    public func callAsFunction(_ x: any SymbolicTensorConvertible) -> SymbolicTensor {
        callSymbolic([x.symbolic])[0]
    }

    /// Records a call of this layer on `inputs` in the graph; its outputs, or one tensor
    /// carrying the error that stops it.
    func callSymbolic(_ inputs: [SymbolicTensor]) -> [SymbolicTensor] {
        record(inputs, arguments: nil) { try self.buildAll(inputs.map(\.shape), dtype: $0) }
    }
}

extension Layer {
    /// Records a call of this layer with keyword arguments (see `CallArguments`) in the graph;
    /// its outputs, or one tensor carrying the error that stops it.
    func callSymbolic(arguments: CallArguments<SymbolicTensor>) -> [SymbolicTensor] {
        record(arguments.tensors, arguments: arguments) { try self.buildCall(arguments.map(\.shape), dtype: $0) }
    }

    /// One graph node of this layer on `inputs`, built by `build` (given the floating-point dtype
    /// of the first input, if any), or one tensor carrying the error that stops it.
    private func record(_ inputs: [SymbolicTensor], arguments: CallArguments<SymbolicTensor>?,
                        build: (DType?) throws -> [[Int]]) -> [SymbolicTensor] {
        if let error = inputs.lazy.compactMap(\.error).first { return [SymbolicTensor(error: error)] }
        do {
            let dtype = inputs.first?.dtype
            let shapes = try build(dtype?.isFloatingPoint == true ? dtype : nil)
            let node = GraphNode(layer: self, inputs: inputs, arguments: arguments)
            node.outputShapes = shapes
            return shapes.enumerated().map { SymbolicTensor(shape: $1, dtype: self.dtype, node: node, index: $0) }
        } catch {
            let why = (error as? LaminaError)?.message ?? "\(error)"
            let shapes = inputs.map { describe($0.shape) }.joined(separator: ", ")
            return [SymbolicTensor(error: LaminaError(.shape, "\(name)(\(shapes)): \(why)"))]
        }
    }
}

extension MergeLayer {
    /// Calls the merge layer on symbolic tensors: `Add()([x, shortcut])`.
    public func callAsFunction(_ inputs: [any SymbolicTensorConvertible]) -> SymbolicTensor {
        callSymbolic(inputs.map(\.symbolic))[0]
    }
}

extension Input: SymbolicTensorConvertible {
    /// The model input this layer stands for.
    public var symbolic: SymbolicTensor { placeholder }
}
