import Foundation

/// Cross-entropy against integer class indices (int32 or whole floats). Keras:
/// `SparseCategoricalCrossentropy`.
public final class SparseCategoricalCrossentropy: Loss {
    public override class var kerasAliases: [String] { ["sparse_categorical_crossentropy"] }
    public override func config() -> [String: Any] { fromLogits ? ["from_logits": true] : [:] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { SparseCategoricalCrossentropy(fromLogits: try r.bool("from_logits", default: false)) }
    /// Whether predictions are logits rather than probabilities (Keras `from_logits`).
    public let fromLogits: Bool
    /// Keras: `keras.losses.SparseCategoricalCrossentropy(from_logits=False)`; PyTorch: `CrossEntropyLoss` (with `fromLogits: true`).
    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits; super.init(name: "sparse_categorical_crossentropy") }

    public override func validate(_ yTrue: Tensor, _ yPred: Tensor) throws {
        let classes = yPred.shape.last ?? 0
        guard yTrue.count == yPred.count / max(classes, 1) else {
            throw LaminaError.shape("sparse_categorical_crossentropy: \(yTrue.count) labels for \(yPred.shape[0]) predictions of shape \(yPred.shape)")
        }
        for v in yTrue.scalarsAsDouble() where v < 0 || v >= Double(classes) || v != v.rounded() {
            throw LaminaError.value("sparse_categorical_crossentropy: label \(v) is not a class index in 0..<\(classes)")
        }
    }

    /// One-hot rows for the labels, in the predictions' dtype.
    static func oneHot(_ labels: Tensor, classes: Int, dtype: DType) -> Tensor {
        let idx = labels.scalarsAsDouble()
        var values = [Double](repeating: 0, count: idx.count * classes)
        for (i, c) in idx.enumerated() { values[i * classes + Int(c)] = 1 }
        return Tensor(shape: [idx.count, classes], scalars: values).cast(to: dtype)
    }

    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let classes = yPred.shape.last!
        let flat = yPred.reshaped(to: [-1, classes])
        let y = Self.oneHot(yTrue, classes: classes, dtype: yPred.dtype)
        let logp: Tensor
        if fromLogits {
            logp = flat.logSoftmax(axis: -1)
        } else {
            logp = (flat / flat.sum(axes: [-1], keepDims: true)).clip(min: Loss.epsilon, max: 1 - Loss.epsilon).log()
        }
        let l = -(y * logp).sum(axes: [-1])
        return l.reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
