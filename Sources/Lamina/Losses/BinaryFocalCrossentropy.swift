import Foundation

/// Binary cross-entropy scaled by (1 − p_t)^γ, p_t the probability of the true class.
/// Keras: `BinaryFocalCrossentropy(gamma=2.0, from_logits=False)` (no class balancing).
public final class BinaryFocalCrossentropy: Loss {
    /// The focusing exponent γ, and whether predictions are logits rather than probabilities.
    public let gamma: Double, fromLogits: Bool
    /// Keras: `keras.losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=False)`; `gamma: 0` is plain binary cross-entropy.
    public init(gamma: Double = 2, fromLogits: Bool = false) {
        (self.gamma, self.fromLogits) = (gamma, fromLogits)
        super.init(name: "binary_focal_crossentropy")
    }
    public override class var kerasAliases: [String] { ["binary_focal_crossentropy"] }
    public override func config() -> [String: Any] {
        var c: [String: Any] = [:]
        if gamma != 2 { c["gamma"] = gamma }
        if fromLogits { c["from_logits"] = true }
        return c
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss {
        guard try !r.bool("apply_class_balancing", default: false) else { throw r.error("apply_class_balancing is not supported") }
        _ = r.value("alpha")  // only used with class balancing
        return BinaryFocalCrossentropy(gamma: try r.double("gamma", default: 2, in: 0...100), fromLogits: try r.bool("from_logits", default: false))
    }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let t = aligned(yTrue, yPred)
        let p = (fromLogits ? yPred.sigmoid() : yPred).clip(min: Loss.epsilon, max: 1 - Loss.epsilon)
        let bce = (t * p.log() + (1 - t) * (1 - p).log()) * -1
        let pt = t * p + (1 - t) * (1 - p)
        return perSampleMean((1 - pt).pow(gamma) * bce, batch: yPred.shape[0])
    }
}
