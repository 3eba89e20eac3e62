import Foundation

/// Stops when `monitor` has not improved by `minDelta` for `patience` epochs; optionally
/// restores the best weights. Keras: `EarlyStopping`.
public final class EarlyStopping: MonitorCallback {
    /// The least change that counts as an improvement, the epochs to wait without one, and whether to restore the best weights when stopping.
    public let minDelta: Double, patience: Int, restoreBestWeights: Bool
    /// A value the monitored quantity must beat for an improvement to reset the patience
    /// (Keras's `baseline`); nil: any improvement does.
    public let baseline: Double?
    /// Epochs (0-based) before this one are not monitored (a warm-up). Keras: `start_from_epoch`.
    public let startFromEpoch: Int
    /// The epoch (0-based) at which training was stopped; 0 when it was not.
    public private(set) var stoppedEpoch = 0
    /// The epoch of the best monitored value so far.
    public private(set) var bestEpoch = 0
    private var best = Double.infinity, wait = 0, bestWeights: [Tensor]?

    /// Keras: `keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=0, mode="auto",`
    /// `baseline=None, restore_best_weights=False, start_from_epoch=0)`; a negative `minDelta` is taken as its absolute value.
    public init(monitor: String = "val_loss", minDelta: Double = 0, patience: Int = 0,
                mode: MonitorMode = .auto, baseline: Double? = nil, restoreBestWeights: Bool = false, startFromEpoch: Int = 0) {
        (self.minDelta, self.patience, self.restoreBestWeights, self.baseline, self.startFromEpoch) =
            (Swift.abs(minDelta), patience, restoreBestWeights, baseline, startFromEpoch)
        super.init(monitor: monitor, mode: mode)
    }

    public override func onTrainBegin() {
        best = .infinity; wait = 0; bestWeights = nil; stoppedEpoch = 0; bestEpoch = 0
        monitorTrainBegan()
    }

    /// Keras 3's rule: each monitored epoch adds to the wait; an improvement on the best so far
    /// (by more than `minDelta`) records it and, when it also beats `baseline`, resets the wait;
    /// otherwise training stops once the wait reaches `patience`.
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        settleMode()
        guard let raw = monitorValue(logs), epoch >= startFromEpoch else { return }
        let sign = mode == .max ? -1.0 : 1.0   // lower is better from here on
        let value = sign * raw
        wait += 1
        if value < best - minDelta {
            best = value
            bestEpoch = epoch
            if restoreBestWeights { bestWeights = model?.getWeights() }
            if baseline.map({ value < sign * $0 - minDelta }) ?? true { wait = 0 }
            return
        }
        if wait >= patience && epoch > 0 {
            stoppedEpoch = epoch
            model?.stopTraining = true
            if restoreBestWeights, let w = bestWeights { try? model?.setWeights(w) }
        }
    }
}
