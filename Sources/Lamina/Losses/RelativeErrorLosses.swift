import Foundation

/// 100 · mean(|y − ŷ| / max(|y|, ε)) over the last axis. Keras: `MeanAbsolutePercentageError`
/// (`"mape"`).
public final class MeanAbsolutePercentageError: Loss {
    /// Keras's defaults (no options).
    public init() { super.init(name: "mean_absolute_percentage_error") }
    public override class var kerasAliases: [String] { ["mean_absolute_percentage_error", "mape", "MAPE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { MeanAbsolutePercentageError() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = aligned(yTrue, yPred)
        // Keras divides by |y| clipped below at epsilon, so a zero label gives a large, finite error.
        let ratio = (y - yPred).abs() / y.abs().clip(min: Loss.epsilon, max: .greatestFiniteMagnitude)
        return (ratio * 100).reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}

/// mean((log(max(ŷ, ε) + 1) − log(max(y, ε) + 1))²) over the last axis. Keras:
/// `MeanSquaredLogarithmicError` (`"msle"`).
public final class MeanSquaredLogarithmicError: Loss {
    /// Keras's defaults (no options).
    public init() { super.init(name: "mean_squared_logarithmic_error") }
    public override class var kerasAliases: [String] { ["mean_squared_logarithmic_error", "msle", "MSLE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { MeanSquaredLogarithmicError() }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = aligned(yTrue, yPred)
        let logPred = (yPred.clip(min: Loss.epsilon, max: .greatestFiniteMagnitude) + 1).log()
        let logTrue = (y.clip(min: Loss.epsilon, max: .greatestFiniteMagnitude) + 1).log()
        return (logPred - logTrue).square().reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
