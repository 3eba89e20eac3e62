import Foundation

/// mean((yTrue − yPred)²) over the last axis. Keras: `MeanSquaredError`.
public final class MeanSquaredError: Loss {
    public override class var kerasAliases: [String] { ["mean_squared_error", "mse", "MSE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { MeanSquaredError() }
    /// Keras: `keras.losses.MeanSquaredError()`; PyTorch: `MSELoss()`.
    public init() { super.init(name: "mean_squared_error") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        (aligned(yTrue, yPred) - yPred).square().reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
