import Foundation

/// Multiplies the learning rate by `factor` after `patience` epochs without improvement.
/// Keras: `ReduceLROnPlateau`.
public final class ReduceLROnPlateau: MonitorCallback {
    /// The factor applied to the rate, the epochs to wait without improvement, the least change that counts as one, and the rate's floor.
    public let factor: Double, patience: Int, minDelta: Double, minLR: Double
    /// Epochs to wait after a reduction before counting epochs without improvement again.
    /// Keras: `cooldown`.
    public let cooldown: Int
    private var best = Double.infinity, wait = 0, cooldownCounter = 0
    /// Keras: `keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4,`
    /// `cooldown=0, min_lr=0.0)`; traps (precondition) when `factor` is 1 or more.
    public init(monitor: String = "val_loss", factor: Double = 0.1, patience: Int = 10, mode: MonitorMode = .auto,
                minDelta: Double = 1e-4, cooldown: Int = 0, minLR: Double = 0) {
        precondition(factor < 1, "ReduceLROnPlateau does not support a factor >= 1 (got \(factor))")
        (self.factor, self.patience, self.minDelta, self.cooldown, self.minLR) = (factor, patience, minDelta, cooldown, minLR)
        super.init(monitor: monitor, mode: mode)
    }
    public override func onTrainBegin() { best = .infinity; wait = 0; cooldownCounter = 0; monitorTrainBegan() }
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        settleMode()
        guard let raw = monitorValue(logs), let opt = model?.optimizer else { return }
        let v = mode == .max ? -raw : raw  // lower is better from here on
        if cooldownCounter > 0 { cooldownCounter -= 1; wait = 0 }
        if v < best - minDelta { best = v; wait = 0; return }
        guard cooldownCounter == 0 else { return }
        wait += 1
        if wait >= patience, opt.learningRate > Double(Float(minLR)) {
            opt.learningRate = Swift.max(opt.learningRate * factor, minLR)
            cooldownCounter = cooldown
            wait = 0
        }
    }
}
