import Foundation

/// mean(log(cosh(ŷ − y))), computed as x + softplus(−2x) − log 2. Keras: `LogCosh`.
public final class LogCosh: Loss {
    /// Keras: `keras.losses.LogCosh()`.
    public init() { super.init(name: "log_cosh") }
    public override class var kerasAliases: [String] { ["log_cosh", "logcosh"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { LogCosh() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let x = yPred - aligned(yTrue, yPred)
        return perSampleMean(x + (x * -2).softplus() - Foundation.log(2.0), batch: yPred.shape[0])
    }
}
