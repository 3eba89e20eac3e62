import Foundation

/// Labels in {0, 1} become {−1, 1} for the hinge losses (Keras converts them the same way).
private func hingeLabels(_ y: Tensor) -> Tensor {
    let values = y.scalarsAsDouble()
    return values.allSatisfy({ $0 == 0 || $0 == 1 }) ? y * 2 - 1 : y
}

/// mean(max(1 − y·ŷ, 0)) with labels −1/1 (0/1 converted). Keras: `Hinge`.
public final class Hinge: Loss {
    /// Keras: `keras.losses.Hinge()`.
    public init() { super.init(name: "hinge") }
    public override class var kerasAliases: [String] { ["hinge"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { Hinge() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        perSampleMean((1 - hingeLabels(aligned(yTrue, yPred)) * yPred).relu(), batch: yPred.shape[0])
    }
}

/// mean(max(1 − y·ŷ, 0)²) with labels −1/1 (0/1 converted). Keras: `SquaredHinge`.
public final class SquaredHinge: Loss {
    /// Keras: `keras.losses.SquaredHinge()`.
    public init() { super.init(name: "squared_hinge") }
    public override class var kerasAliases: [String] { ["squared_hinge"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { SquaredHinge() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        perSampleMean((1 - hingeLabels(aligned(yTrue, yPred)) * yPred).relu().square(), batch: yPred.shape[0])
    }
}

/// max(max((1 − y)·ŷ) − Σ y·ŷ + 1, 0) over one-hot labels. Keras: `CategoricalHinge`.
public final class CategoricalHinge: Loss {
    /// Keras: `keras.losses.CategoricalHinge()`.
    public init() { super.init(name: "categorical_hinge") }
    public override class var kerasAliases: [String] { ["categorical_hinge"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { CategoricalHinge() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let t = aligned(yTrue, yPred), last = yPred.rank - 1
        let positive = (t * yPred).sum(axes: [last]), negative = ((1 - t) * yPred).max(axes: [last])
        return perSampleMean((negative - positive + 1).relu(), batch: yPred.shape[0])
    }
}
