import Foundation

/// What `fit` returns: per-epoch values of every metric. Keras: `History`.
public final class History: Callback {
    /// `history["loss"]`, `history["val_accuracy"]`, ...
    public internal(set) var history: [String: [Double]] = [:]
    public internal(set) var epoch: [Int] = []
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        self.epoch.append(epoch)
        for (k, v) in logs { history[k, default: []].append(v) }
    }
}
