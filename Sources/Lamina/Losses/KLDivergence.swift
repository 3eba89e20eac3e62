import Foundation

/// Σ y·log(y / ŷ) over the last axis, both clipped to [ε, 1]. Keras: `KLDivergence`.
public final class KLDivergence: Loss {
    /// Keras: `keras.losses.KLDivergence()`.
    public init() { super.init(name: "kl_divergence") }
    public override class var kerasAliases: [String] { ["kl_divergence", "kld", "KLD", "kullback_leibler_divergence"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { KLDivergence() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let t = aligned(yTrue, yPred).clip(min: Loss.epsilon, max: 1), p = yPred.clip(min: Loss.epsilon, max: 1)
        return perSampleSum(t * (t / p).log(), batch: yPred.shape[0])
    }
}
