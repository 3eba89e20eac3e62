import Foundation

/// Stops training with a message when the loss becomes NaN or infinite. Keras: `TerminateOnNaN`.
public final class TerminateOnNaN: Callback {
    /// Whether a NaN or infinite loss stopped training.
    public private(set) var terminated = false
    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) {
        if let loss = logs["loss"], !loss.isFinite {
            print("Batch \(batch): invalid loss \(loss), terminating training")
            terminated = true
            model?.stopTraining = true
        }
    }
}
