

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
