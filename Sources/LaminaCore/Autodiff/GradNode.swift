/// A vector-Jacobian product: given the gradient of the output and which inputs need a
/// gradient, returns one gradient per input (nil where not needed). Gradients may have a
/// broadcast shape; the engine reduces them to the input's shape.
public typealias VJP = (_ gradient: Tensor, _ needed: [Bool]) -> [Tensor?]

/// A node of the dynamic tape. Leaves are tensors marked `requiresGrad` (their gradient
/// lands in `grad`); every other node is the result of an op and holds its VJP.
public final class GradNode {
    public let op: String
    var inputs: [GradNode?]
    var inputShapes: [[Int]]
    var vjp: VJP?
    /// Accumulated gradient of a leaf after `backward()`.
    public internal(set) var grad: Tensor?

    var isLeaf: Bool { op == "leaf" }

    init(op: String, inputs: [GradNode?], inputShapes: [[Int]], vjp: VJP?) {
        self.op = op
        self.inputs = inputs
        self.inputShapes = inputShapes
        self.vjp = vjp
    }

    static func leaf() -> GradNode { GradNode(op: "leaf", inputs: [], inputShapes: [], vjp: nil) }
}

extension Tensor {
    /// Whether this tensor takes part in autodiff. Setting it to true makes the tensor a
    /// fresh leaf whose gradient `backward()` writes to `grad`.
    public var requiresGrad: Bool {
        get { node != nil }
        set { node = newValue ? GradNode.leaf() : nil }
    }

    /// The gradient accumulated by `backward()` for a leaf tensor, nil before.
    public var grad: Tensor? { node?.grad }

    /// Clears the accumulated gradient of a leaf.
    public func zeroGrad() { node?.grad = nil }

    /// The same values cut off from the tape.
    public func detached() -> Tensor { Tensor(storage: storage, shape: shape) }

    /// Returns `self` with a node recording `op` when gradients are enabled and any input
    /// needs a gradient; otherwise `self` unchanged. Ops call it with their VJP written
    /// next to their forward.
    public func recorded(_ op: String, inputs: [Tensor], _ vjp: @escaping VJP) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return self }
        var out = self
        out.node = GradNode(op: op, inputs: inputs.map(\.node), inputShapes: inputs.map(\.shape), vjp: vjp)
        return out
    }
}
