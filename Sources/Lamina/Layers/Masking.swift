/// Marks the steps of a sequence batch whose features all equal `maskValue` as padding: they
/// are set to 0 and left out by the output's mask (`kerasMask`), which recurrent, pooling and
/// attention layers, losses and metrics honour. Keras: `Masking(mask_value=0.0)`.
///
/// ```swift
/// let model = Sequential([Masking(maskValue: 0, inputShape: [10, 8]), LSTM(32), Dense(1)])
/// ```
public final class Masking: Layer {
    /// The feature value that marks a padded step (every feature of the step must equal it).
    public let maskValue: Double

    /// Keras: `Masking(mask_value=0.0)`: masks the time steps whose features all equal `maskValue`.
    public init(maskValue: Double = 0, inputShape: [Int]? = nil, name: String? = nil) {
        self.maskValue = maskValue
        super.init(name: name, inputShape: inputShape)
        if !maskValue.isFinite { reject("maskValue \(maskValue) must be finite") }
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        Masking(maskValue: try r.double("mask_value", default: 0), name: try r.layerName())
    }
    public override func config() throws -> [String: Any] { ["mask_value": maskValue] }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count >= 1 else { throw LaminaError.shape("\(name) expects [*, ..., features], got \(describe(s))") }
        return s
    }

    public override var supportsMasking: Bool { true }

    /// Padded steps set to 0; the output carries the mask (computed once, as Keras's call sets it).
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let keep = stepMask(x)
        var y = x * keep.cast(to: x.dtype).expandingDims(axis: keep.rank)
        y.kerasMask = keep
        return y
    }

    /// 1 for a step with any feature different from `maskValue`, over the input's leading axes.
    public override func computeMask(_ x: Tensor, mask: Tensor?) throws -> Tensor? { stepMask(x) }

    private func stepMask(_ x: Tensor) -> Tensor {
        withoutGradients {
            x.notEqual(Tensor(scalar: maskValue).cast(to: x.dtype)).max(axes: [x.rank - 1]).cast(to: .float32)
        }
    }
}
