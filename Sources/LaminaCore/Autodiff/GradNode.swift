/// A vector-Jacobian product: given the gradient of the output and which inputs need a
/// gradient, returns one gradient per input (nil where not needed). Gradients may have a
/// broadcast shape; the engine reduces them to the input's shape. `@Sendable`: it captures
/// only values (tensors, shapes), so a tape may be walked by whichever task holds it.
public typealias VJP = @Sendable (_ gradient: Tensor, _ needed: [Bool]) -> [Tensor?]

/// A node of the dynamic tape. Leaves are tensors marked `requiresGrad` (their gradient
/// lands in `grad`); every other node is the result of an op and holds its VJP.
///
/// Sendable: the name and input shapes are constants; what `backward()` changes (the
/// accumulated gradient, and the inputs and VJP it releases) sits behind a mutex, so two tasks
/// holding tensors of one graph cannot race on it.
public final class GradNode: Sendable {
    /// The op that made the tensor (`"matmul"`), for debugging.
    public let op: String
    let inputShapes: [[Int]]
    private struct Tape {
        var inputs: [GradNode?]
        var vjp: VJP?
        var grad: Tensor?
    }
    private let tape: Locked<Tape>

    var inputs: [GradNode?] { tape.withLock { $0.inputs } }
    var vjp: VJP? { tape.withLock { $0.vjp } }
    /// Accumulated gradient of a leaf after `backward()`.
    public var grad: Tensor? { tape.withLock { $0.grad } }

    var isLeaf: Bool { op == "leaf" }

    init(op: String, inputs: [GradNode?], inputShapes: [[Int]], vjp: VJP?) {
        self.op = op
        self.inputShapes = inputShapes
        tape = Locked(Tape(inputs: inputs, vjp: vjp, grad: nil))
    }

    static func leaf() -> GradNode { GradNode(op: "leaf", inputs: [], inputShapes: [], vjp: nil) }

    /// Adds `g` to the accumulated gradient.
    func accumulate(_ g: Tensor) {
        let previous = tape.withLock { t -> Tensor? in defer { t.grad = nil }; return t.grad }
        let sum = previous.map { $0 + g } ?? g
        tape.withLock { $0.grad = sum }
    }
    func clearGrad() { tape.withLock { $0.grad = nil } }
    /// Drops the VJP and the links to the inputs after a backward pass.
    func release() { tape.withLock { $0.vjp = nil; $0.inputs = [] } }
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
    public func zeroGrad() { node?.clearGrad() }

    /// The same values cut off from the tape.
    public func detached() -> Tensor {
        var t = Tensor(storage: storage, shape: shape)
        t.maskBox = maskBox   // the same values, so the same padding
        return t
    }

    /// Returns `self` with a node recording `op` when gradients are enabled and any input
    /// needs a gradient; otherwise `self` unchanged. Ops call it with their VJP written
    /// next to their forward.
    public func recorded(_ op: String, inputs: [Tensor], _ vjp: @escaping VJP) -> Tensor {
        guard GradMode.records(inputs) else { return self }
        var out = self
        out.node = GradNode(op: op, inputs: inputs.map(\.node), inputShapes: inputs.map(\.shape), vjp: vjp)
        return out
    }
}
