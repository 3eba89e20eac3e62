import Foundation

// Keras's further losses, each a mean over the last axis per sample (then over the batch, as
// every Lamina loss). Formulas as Keras 3 computes them (keras/src/losses/losses.py).

/// The per-sample mean of `values` over everything but the batch axis.
private func perSampleMean(_ values: Tensor, batch: Int) -> Tensor { values.reshaped(to: [batch, -1]).mean(axis: 1) }
/// The per-sample sum over the last axis, then the mean over any other non-batch axes.
private func perSampleSum(_ values: Tensor, batch: Int) -> Tensor {
    values.sum(axes: [values.rank - 1]).reshaped(to: [batch, -1]).mean(axis: 1)
}

/// Labels in {0, 1} become {−1, 1} for the hinge losses (Keras converts them the same way).
private func hingeLabels(_ y: Tensor) -> Tensor {
    let values = y.scalarsAsDouble()
    return values.allSatisfy({ $0 == 0 || $0 == 1 }) ? y * 2 - 1 : y
}

/// Σ y·log(y / ŷ) over the last axis, both clipped to [ε, 1]. Keras: `KLDivergence`.
public final class KLDivergence: Loss {
    public init() { super.init(name: "kl_divergence") }
    public override class var kerasAliases: [String] { ["kl_divergence", "kld", "KLD", "kullback_leibler_divergence"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { KLDivergence() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let t = aligned(yTrue, yPred).clip(min: Loss.epsilon, max: 1), p = yPred.clip(min: Loss.epsilon, max: 1)
        return perSampleSum(t * (t / p).log(), batch: yPred.shape[0])
    }
}

/// mean(max(1 − y·ŷ, 0)) with labels −1/1 (0/1 converted). Keras: `Hinge`.
public final class Hinge: Loss {
    public init() { super.init(name: "hinge") }
    public override class var kerasAliases: [String] { ["hinge"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { Hinge() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        perSampleMean((1 - hingeLabels(aligned(yTrue, yPred)) * yPred).relu(), batch: yPred.shape[0])
    }
}

/// mean(max(1 − y·ŷ, 0)²) with labels −1/1 (0/1 converted). Keras: `SquaredHinge`.
public final class SquaredHinge: Loss {
    public init() { super.init(name: "squared_hinge") }
    public override class var kerasAliases: [String] { ["squared_hinge"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { SquaredHinge() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        perSampleMean((1 - hingeLabels(aligned(yTrue, yPred)) * yPred).relu().square(), batch: yPred.shape[0])
    }
}

/// max(max((1 − y)·ŷ) − Σ y·ŷ + 1, 0) over one-hot labels. Keras: `CategoricalHinge`.
public final class CategoricalHinge: Loss {
    public init() { super.init(name: "categorical_hinge") }
    public override class var kerasAliases: [String] { ["categorical_hinge"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { CategoricalHinge() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let t = aligned(yTrue, yPred), last = yPred.rank - 1
        let positive = (t * yPred).sum(axes: [last]), negative = ((1 - t) * yPred).max(axes: [last])
        return perSampleMean((negative - positive + 1).relu(), batch: yPred.shape[0])
    }
}

/// mean(log(cosh(ŷ − y))), computed as x + softplus(−2x) − log 2. Keras: `LogCosh`.
public final class LogCosh: Loss {
    public init() { super.init(name: "log_cosh") }
    public override class var kerasAliases: [String] { ["log_cosh", "logcosh"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { LogCosh() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let x = yPred - aligned(yTrue, yPred)
        return perSampleMean(x + (x * -2).softplus() - Foundation.log(2.0), batch: yPred.shape[0])
    }
}

/// mean(ŷ − y·log(ŷ + ε)). Keras: `Poisson`.
public final class Poisson: Loss {
    public init() { super.init(name: "poisson") }
    public override class var kerasAliases: [String] { ["poisson"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { Poisson() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        perSampleMean(yPred - aligned(yTrue, yPred) * (yPred + Loss.epsilon).log(), batch: yPred.shape[0])
    }
}

/// −Σ ŷ·y / (‖ŷ‖·‖y‖) over the last axis (norms at least 1e-6). Keras: `CosineSimilarity(axis=-1)`.
public final class CosineSimilarity: Loss {
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

/// Binary cross-entropy scaled by (1 − p_t)^γ, p_t the probability of the true class.
/// Keras: `BinaryFocalCrossentropy(gamma=2.0, from_logits=False)` (no class balancing).
public final class BinaryFocalCrossentropy: Loss {
    public let gamma: Double, fromLogits: Bool
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
