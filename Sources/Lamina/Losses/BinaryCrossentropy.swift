import Foundation

/// Binary cross-entropy on probabilities (clipped to [ε, 1 − ε]) or logits. Keras: `BinaryCrossentropy`.
public final class BinaryCrossentropy: Loss {
    public override class var kerasAliases: [String] { ["binary_crossentropy", "bce", "BCE"] }
    public override func config() -> [String: Any] { fromLogits ? ["from_logits": true] : [:] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { BinaryCrossentropy(fromLogits: try r.bool("from_logits", default: false)) }
    /// Whether predictions are logits rather than probabilities (Keras `from_logits`).
    public let fromLogits: Bool
    /// Keras: `keras.losses.BinaryCrossentropy(from_logits=False)`; PyTorch: `BCELoss`, or `BCEWithLogitsLoss` with `fromLogits: true`.
    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits; super.init(name: "binary_crossentropy") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = aligned(yTrue, yPred)
        let l: Tensor
        if fromLogits {
            // max(z, 0) − z·y + log(1 + e^−|z|): TensorFlow's stable sigmoid cross-entropy.
            l = yPred.relu() - yPred * y + (-yPred.abs()).softplus()
        } else {
            let p = yPred.clip(min: Loss.epsilon, max: 1 - Loss.epsilon)
            l = -(y * p.log() + (1 - y) * (1 - p).log())
        }
        return l.reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
