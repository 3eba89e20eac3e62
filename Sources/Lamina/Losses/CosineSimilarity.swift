import Foundation

/// −Σ ŷ·y / (‖ŷ‖·‖y‖) over the last axis (norms at least 1e-6). Keras: `CosineSimilarity(axis=-1)`.
public final class CosineSimilarity: Loss {
    /// Keras: `keras.losses.CosineSimilarity(axis=-1)` (only the last axis).
    public init() { super.init(name: "cosine_similarity") }
    public override class var kerasAliases: [String] { ["cosine_similarity"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss {
        guard try r.int("axis", default: -1) == -1 else { throw r.error("only axis -1 is supported") }
        return CosineSimilarity()
    }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let last = yPred.rank - 1
        func normalized(_ v: Tensor) -> Tensor {
            v / v.square().sum(axes: [last], keepDims: true).clip(min: 1e-12, max: .greatestFiniteMagnitude).sqrt()
        }
        return perSampleSum(normalized(aligned(yTrue, yPred)) * normalized(yPred), batch: yPred.shape[0]) * -1
    }
}
