import Foundation

/// mean(ŷ − y·log(ŷ + ε)). Keras: `Poisson`.
public final class Poisson: Loss {
    /// Keras: `keras.losses.Poisson()`; PyTorch: `PoissonNLLLoss(log_input=False)`.
    public init() { super.init(name: "poisson") }
    public override class var kerasAliases: [String] { ["poisson"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { Poisson() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        perSampleMean(yPred - aligned(yTrue, yPred) * (yPred + Loss.epsilon).log(), batch: yPred.shape[0])
    }
}
