import Foundation

/// What `fit` returns: per-epoch values of every metric. Keras: `History`.
public final class History: Callback {
    /// `history["loss"]`, `history["val_accuracy"]`, ...
    public internal(set) var history: [String: [Double]] = [:]
    /// The epochs (0-based) recorded, one per entry of each `history` list.
    public internal(set) var epoch: [Int] = []
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        self.epoch.append(epoch)
        for (k, v) in logs { history[k, default: []].append(v) }
    }
}
