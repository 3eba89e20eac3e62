import Foundation

/// Sets the learning rate at the start of each epoch from `schedule(epoch, currentRate)`.
/// Keras: `LearningRateScheduler`.
public final class LearningRateScheduler: Callback {
    let schedule: (Int, Double) -> Double
    /// Keras: `keras.callbacks.LearningRateScheduler(schedule)`; `schedule` takes the epoch (0-based) and the current rate.
    public init(_ schedule: @escaping (Int, Double) -> Double) { self.schedule = schedule }
    public override func onEpochBegin(_ epoch: Int) {
        guard let opt = model?.optimizer else { return }
        opt.learningRate = schedule(epoch, opt.learningRate)
    }
}
