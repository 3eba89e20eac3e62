extension Tensor {
    /// Back-propagates from this tensor: every leaf it depends on gets `grad` increased by
    /// d(self)/d(leaf) times `gradient` (ones by default, which needs a scalar-like output).
    /// The graph is released afterwards, as PyTorch does without `retain_graph`.
    public func backward(_ gradient: Tensor? = nil) {
        for (leaf, g) in Autodiff.run(from: self, seed: gradient) {
            leaf.accumulate(g)
        }
    }

    /// The gradients of this tensor with respect to `inputs` (leaves marked `requiresGrad`),
    /// without touching their `grad`. A leaf the output does not depend on gets zeros.
    public func gradients(wrt inputs: [Tensor], seed: Tensor? = nil) -> [Tensor] {
        let found = Autodiff.run(from: self, seed: seed)
        var byNode: [ObjectIdentifier: Tensor] = [:]
        for (leaf, g) in found { byNode[ObjectIdentifier(leaf)] = g }
        return inputs.map { x in
            precondition(x.node != nil, "gradients(wrt:): an input does not require a gradient")
            return byNode[ObjectIdentifier(x.node!)] ?? Tensor.zeros(x.shape, dtype: x.dtype)
        }
    }
}

/// Gradient of `f` at `x` (PyTorch's `torch.autograd.grad` for one input).
public func gradient(of f: (Tensor) -> Tensor, at x: Tensor) -> Tensor {
    var leaf = x.detached()
    leaf.requiresGrad = true
    return f(leaf).gradients(wrt: [leaf])[0]
}

enum Autodiff {
    /// Walks the tape from `root` in reverse topological order and returns the gradient of
    /// every leaf reached. Iterative, so an LSTM unrolled over many steps cannot overflow the
    /// stack; fan-out is handled by summing into one slot per node; broadcasting by
    /// reducing each input gradient to that input's shape, once, here.
    static func run(from root: Tensor, seed: Tensor?) -> [(GradNode, Tensor)] {
        guard let rootNode = root.node else {
            preconditionFailure("backward: the tensor does not require a gradient (no input was marked requiresGrad)")
        }
        precondition(rootNode.isLeaf || rootNode.vjp != nil,
                     "backward: the graph was already released by an earlier backward()")
        let seed = seed ?? Tensor.ones(root.shape, dtype: root.dtype)
        precondition(seed.shape == root.shape, "backward: gradient shape \(seed.shape) differs from output shape \(root.shape)")

        let order = topologicalOrder(rootNode)
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(rootNode): seed]
        var leaves: [(GradNode, Tensor)] = []
        withoutGradients {
            for node in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(node)) else { continue }
                if node.isLeaf { leaves.append((node, g)); continue }
                guard let vjp = node.vjp else { continue }
                let needed = node.inputs.map { $0 != nil }
                let inputGrads = vjp(g, needed)
                for (i, input) in node.inputs.enumerated() {
                    guard let input, let ig = inputGrads[i] else { continue }
                    let reduced = ig.unbroadcast(to: node.inputShapes[i])
                    let key = ObjectIdentifier(input)
                    grads[key] = grads[key].map { $0 + reduced } ?? reduced
                }
                // What this op kept for its backward (its saved activations) goes now, not when
                // the whole pass ends: the peak of a training step is activations plus
                // gradients, and the largest gradients come last, when most activations are
                // no longer needed. `order` still holds every node, so no deinit cascades.
                node.release()
            }
        }
        // Release the rest of the graph (ops whose gradient was not needed) iteratively: a
        // recursive cascade of deinits could be deep.
        for node in order where !node.isLeaf { node.release() }
        return leaves
    }

    /// Post-order of the nodes reachable from `root` (inputs before the ops that use them).
    static func topologicalOrder(_ root: GradNode) -> [GradNode] {
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Bool)] = [(root, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for case let input? in node.inputs where !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }
}
