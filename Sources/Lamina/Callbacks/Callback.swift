import Foundation

/// Hooks into `fit`, as Keras callbacks. `logs` maps metric names (`loss`, `accuracy`,
/// `val_loss`, ...) to values. Set `model.stopTraining = true` to end after this epoch, or throw
/// from a hook to end `fit` at once with that error (overrides need not be `throws`).
open class Callback {
    public internal(set) weak var model: Model?
    public init() {}
    open func onTrainBegin() throws {}
    open func onTrainEnd() throws {}
    open func onEpochBegin(_ epoch: Int) throws {}
    open func onEpochEnd(_ epoch: Int, logs: [String: Double]) throws {}
    /// `logs`: the batch's own `loss`, and the compiled metrics' values so far this epoch.
    open func onBatchEnd(_ batch: Int, logs: [String: Double]) throws {}
}
