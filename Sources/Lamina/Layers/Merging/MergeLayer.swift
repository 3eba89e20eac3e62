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

/// Merges of same-shaped (or broadcastable) inputs, element by element.
open class ElementwiseMerge: MergeLayer {
    /// Combines two batches of equal rank (broadcasting).
    open func combine(_ a: Tensor, _ b: Tensor) -> Tensor { fatalError("\(className) must override combine(_:_:)") }

    /// How the combined result is finished (`Average` divides by the count).
    open func finish(_ result: Tensor, count: Int) -> Tensor { result }

    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for shape in shapes {
            let padded = [Int](repeating: 1, count: rank - shape.count) + shape
            for (i, d) in padded.enumerated() {
                if out[i] == 1 { out[i] = d } else if d != 1 && d != out[i] {
                    throw LaminaError.shape("\(name) (\(className)): inputs have incompatible shapes \(shapes.map { describe($0) }.joined(separator: " and "))")
                }
            }
        }
        return out
    }

    public override func merge(_ inputs: [Tensor]) throws -> Tensor {
        let rank = inputs.map(\.rank).max() ?? 0
        // Keras inserts the missing axes after the batch axis.
        let aligned = inputs.map { x in x.rank == rank ? x : x.reshaped(to: [x.shape[0]] + [Int](repeating: 1, count: rank - x.rank) + x.shape.dropFirst()) }
        return finish(aligned.dropFirst().reduce(aligned[0]) { combine($0, $1) }, count: inputs.count)
    }

    open override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard self != ElementwiseMerge.self else { throw r.error("ElementwiseMerge is abstract") }
        return self.init(name: try r.layerName())
    }

    /// A merge layer named `name` (a unique name when nil).
    public required init(name: String? = nil) { super.init(name: name) }
}

/// Sum of the inputs. Keras: `keras.layers.Add`.
public final class Add: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a + b }
}

/// The first input minus the second. Keras: `keras.layers.Subtract`.
public final class Subtract: ElementwiseMerge {
    public override var minimumInputs: Int { 2 }
    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        guard shapes.count == 2 else { throw LaminaError.shape("\(name) (Subtract) takes exactly 2 inputs, got \(shapes.count)") }
        return try super.mergedShape(shapes)
    }
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a - b }
}

/// Product of the inputs. Keras: `keras.layers.Multiply`.
public final class Multiply: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a * b }
}

/// Mean of the inputs. Keras: `keras.layers.Average`.
public final class Average: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a + b }
    public override func finish(_ result: Tensor, count: Int) -> Tensor { result / Double(count) }
}

/// Elementwise maximum of the inputs. Keras: `keras.layers.Maximum`.
public final class Maximum: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { LaminaCore.maximum(a, b) }
}

/// Elementwise minimum of the inputs. Keras: `keras.layers.Minimum`.
public final class Minimum: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { LaminaCore.minimum(a, b) }
}

/// Joins the inputs along `axis` (per-sample axes; -1 is the last). Keras:
/// `keras.layers.Concatenate(axis=-1)`.
public final class Concatenate: MergeLayer {
    /// The per-sample axis the inputs are joined along (-1: the last).
    public let axis: Int

    /// Keras: `keras.layers.Concatenate(axis=-1)`; PyTorch: `torch.cat(dim=...)`. Axis 0 (the batch axis) is reported through `argumentError`.
    public init(axis: Int = -1, name: String? = nil) {
        self.axis = axis
        super.init(name: name)
        if axis == 0 { reject("axis 0 is the batch axis; concatenate along a per-sample axis") }
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        Concatenate(axis: try r.int("axis", default: -1), name: try r.layerName())
    }
    public override func config() throws -> [String: Any] { ["axis": axis] }

    /// The axis of the batch tensors (batch axis included) for inputs of per-sample rank `rank`.
    private func batchAxis(rank: Int) throws -> Int {
        let a = axis < 0 ? axis + rank + 1 : axis
        guard a >= 1 && a <= rank else { throw LaminaError.shape("\(name) (Concatenate): axis \(axis) is out of range for inputs of rank \(rank + 1)") }
        return a
    }

    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        let first = shapes[0]
        let a = try batchAxis(rank: first.count) - 1
        var out = first
        for shape in shapes.dropFirst() {
            guard shape.count == first.count,
                  shape.enumerated().allSatisfy({ $0.offset == a || $0.element == first[$0.offset] }) else {
                throw LaminaError.shape("\(name) (Concatenate) along axis \(axis) needs inputs of equal shapes except on that axis, got "
                    + shapes.map { describe($0) }.joined(separator: " and "))
            }
            out[a] += shape[a]
        }
        return out
    }

    public override func merge(_ inputs: [Tensor]) throws -> Tensor {
        Tensor.concatenated(inputs, axis: try batchAxis(rank: inputs[0].rank - 1))
    }

    /// Keras's mask of a concatenation (each input's mask, ones where an input has none, then
    /// "any" over the features): joined along a masked axis (steps) the masks are joined too;
    /// joined along the features, a step counts where it counts in any input — so one input
    /// without a mask makes every step count.
    public override func mergedMask(_ inputs: [Tensor]) -> Tensor? {
        guard let first = inputs.lazy.compactMap(\.kerasMask).first, let a = try? batchAxis(rank: inputs[0].rank - 1) else { return nil }
        let masks = inputs.map { $0.kerasMask ?? Tensor.ones(Array($0.shape.prefix(first.rank))) }
        guard masks.allSatisfy({ $0.rank == first.rank }) else { return nil }
        return a < first.rank ? Tensor.concatenated(masks, axis: a) : masks.dropFirst().reduce(masks[0]) { maximum($0, $1) }
    }
}
