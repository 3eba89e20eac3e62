/// The base of layers that combine several tensors into one (`Add`, `Concatenate`, ...),
/// called on an array as in Keras: `Add()([x, shortcut])`, symbolically or on tensors.
///
/// Subclasses implement `merge(_:)` and `mergedShape(_:)`; merge layers have no weights.
/// Elementwise merges broadcast as Keras's `_Merge`: an input of lower rank gains axes
/// right after the batch axis, and axes of size 1 stretch.
open class MergeLayer: Layer {
    /// Combines a batch of each input into one batch.
    open func merge(_ inputs: [Tensor]) throws -> Tensor {
        throw LaminaError.configuration("\(className) must override merge(_:)")
    }

    /// The per-sample output shape for the per-sample shapes of the inputs; throws naming them
    /// where they do not fit.
    open func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        throw LaminaError.configuration("\(className) must override mergedShape(_:)")
    }

    /// The fewest inputs the layer takes (Keras: 1 for elementwise merges, 2 for `Dot`).
    open var minimumInputs: Int { 1 }

    /// Applies the layer to a list of batches (eagerly).
    public func callAsFunction(_ inputs: [Tensor], training: Bool = false) throws -> Tensor {
        try callAll(inputs, training: training)[0]
    }

    public override func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        let shapes = try inputs.map { x -> [Int] in
            guard x.rank >= 1 else { throw LaminaError.shape("\(name) expects batches, got a scalar") }
            return Array(x.shape.dropFirst())
        }
        _ = try buildAll(shapes, dtype: inputs.first?.dtype)
        let batches = Set(inputs.map { $0.shape[0] })
        guard batches.count == 1 else {
            throw LaminaError.shape("\(name): inputs have different batch sizes \(inputs.map { $0.shape[0] })")
        }
        var out = try merge(inputs)
        out.kerasMask = mergedMask(inputs)
        return [out]
    }

    /// The output's mask from the inputs' masks (Keras 3's `compute_mask` of merge layers): none
    /// unless every input has one (Keras 3.15.1 returns None when any mask is None), else a step
    /// counts where it counts in any input.
    open func mergedMask(_ inputs: [Tensor]) -> Tensor? {
        let masks = inputs.compactMap(\.kerasMask)
        guard let first = masks.first, masks.count == inputs.count else { return nil }
        return masks.dropFirst().reduce(first) { maximum($0, $1) }
    }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        if let argumentError { throw argumentError }
        guard inputShapes.count >= minimumInputs else {
            throw LaminaError.shape("\(name) (\(className)) must be called on a list of at least \(minimumInputs) inputs, got \(inputShapes.count)")
        }
        let out = try mergedShape(inputShapes)
        if !isBuilt {
            if let dtype { self.dtype = dtype }
            markBuilt(inputShape: nil, outputShape: out)
        }
        return [out]
    }

    /// A merge layer takes a list: a single tensor is an error.
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        throw LaminaError.shape("\(name) (\(className)) must be called on a list of tensors, e.g. \(className)()([a, b])")
    }

    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] {
        throw LaminaError.shape("\(name) (\(className)) takes a list of inputs")
    }
}
