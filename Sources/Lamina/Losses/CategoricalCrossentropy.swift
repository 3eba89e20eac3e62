import Foundation

/// Cross-entropy against one-hot labels. Probabilities are renormalized and clipped as in
/// Keras; logits go through a stable log-softmax. Keras: `CategoricalCrossentropy`.
public final class CategoricalCrossentropy: Loss {
    public override class var kerasAliases: [String] { ["categorical_crossentropy"] }
    public override func config() -> [String: Any] { fromLogits ? ["from_logits": true] : [:] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { CategoricalCrossentropy(fromLogits: try r.bool("from_logits", default: false)) }
    /// Whether predictions are logits rather than probabilities (Keras `from_logits`).
    public let fromLogits: Bool
    /// Keras: `keras.losses.CategoricalCrossentropy(from_logits=False)`; PyTorch: `CrossEntropyLoss` with probability targets.
    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits; super.init(name: "categorical_crossentropy") }
    public override func validate(_ yTrue: Tensor, _ yPred: Tensor) throws {
        guard yTrue.shape == yPred.shape else {
            throw LaminaError.shape("categorical_crossentropy: one-hot labels of shape \(yTrue.shape) do not match predictions of shape \(yPred.shape) (use sparse_categorical_crossentropy for class indices)")
        }
    }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = aligned(yTrue, yPred)
        let logp: Tensor
        if fromLogits {
            logp = yPred.logSoftmax(axis: -1)
        } else {
            logp = (yPred / yPred.sum(axes: [-1], keepDims: true)).clip(min: Loss.epsilon, max: 1 - Loss.epsilon).log()
        }
        return -(y * logp).sum(axes: [-1])
    }
}
