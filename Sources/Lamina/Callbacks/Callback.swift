import Foundation

/// Hooks into `fit`, as Keras callbacks. `logs` maps metric names (`loss`, `accuracy`,
/// `val_loss`, ...) to values. Set `model.stopTraining = true` to end after this epoch, or throw
/// from a hook to end `fit` at once with that error (overrides need not be `throws`).
open class Callback {
    /// The model being trained, set by `fit` before the first hook.
    public internal(set) weak var model: Model?
    /// A callback that does nothing until a subclass overrides its hooks.
    public init() {}
    /// Called once when `fit` starts. Keras: `on_train_begin`.
    open func onTrainBegin() throws {}
    /// Called once when `fit` ends. Keras: `on_train_end`.
    open func onTrainEnd() throws {}
    /// Called before each epoch (0-based). Keras: `on_epoch_begin`.
    open func onEpochBegin(_ epoch: Int) throws {}
    /// Called after each epoch with its training and validation values. Keras: `on_epoch_end`.
    open func onEpochEnd(_ epoch: Int, logs: [String: Double]) throws {}
    /// `logs`: the batch's own `loss`, and the compiled metrics' values so far this epoch.
    open func onBatchEnd(_ batch: Int, logs: [String: Double]) throws {}
}
