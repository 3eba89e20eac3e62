import Foundation

/// mean(|yTrue − yPred|) over the last axis. Keras: `MeanAbsoluteError`.
public final class MeanAbsoluteError: Loss {
    public override class var kerasAliases: [String] { ["mean_absolute_error", "mae", "MAE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { MeanAbsoluteError() }
    /// Keras: `keras.losses.MeanAbsoluteError()`; PyTorch: `L1Loss()`.
    public init() { super.init(name: "mean_absolute_error") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        (aligned(yTrue, yPred) - yPred).abs().reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
