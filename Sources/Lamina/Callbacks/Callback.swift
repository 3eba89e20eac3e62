import Foundation

/// Hooks into `fit`, as Keras callbacks. `logs` maps metric names (`loss`, `accuracy`,
/// `val_loss`, ...) to values. Set `model.stopTraining = true` to end after this epoch.
open class Callback {
    public internal(set) weak var model: Sequential?
    public init() {}
    open func onTrainBegin() {}
    open func onTrainEnd() {}
    open func onEpochBegin(_ epoch: Int) {}
    open func onEpochEnd(_ epoch: Int, logs: [String: Double]) {}
    open func onBatchEnd(_ batch: Int, logs: [String: Double]) {}
}

/// What `fit` returns: per-epoch values of every metric. Keras: `History`.
public final class History: Callback {
    /// `history["loss"]`, `history["val_accuracy"]`, ...
    public internal(set) var history: [String: [Float]] = [:]
    public internal(set) var epoch: [Int] = []
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        self.epoch.append(epoch)
        for (k, v) in logs { history[k, default: []].append(Float(v)) }
    }
}

/// Stops when `monitor` has not improved by `minDelta` for `patience` epochs; optionally
/// restores the best weights. Keras: `EarlyStopping`.
public final class EarlyStopping: Callback {
    public let monitor: String, minDelta: Double, patience: Int, restoreBestWeights: Bool
    public let mode: String
    public private(set) var stoppedEpoch = 0
    private var best = Double.infinity, wait = 0, bestWeights: [Tensor]?

    public init(monitor: String = "val_loss", minDelta: Double = 0, patience: Int = 0,
                mode: String = "auto", restoreBestWeights: Bool = false) {
        (self.monitor, self.minDelta, self.patience, self.restoreBestWeights) = (monitor, Swift.abs(minDelta), patience, restoreBestWeights)
        self.mode = mode == "auto" ? (monitor.contains("acc") || monitor.contains("precision") || monitor.contains("recall") ? "max" : "min") : mode
    }

    public override func onTrainBegin() { best = .infinity; wait = 0; bestWeights = nil; stoppedEpoch = 0 }

    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        guard let raw = logs[monitor] else { return }
        let value = mode == "max" ? -raw : raw
        if value < best - minDelta {
            best = value
            wait = 0
            if restoreBestWeights { bestWeights = model?.getWeights() }
        } else {
            wait += 1
            if wait >= patience {
                stoppedEpoch = epoch
                model?.stopTraining = true
                if restoreBestWeights, let w = bestWeights { try? model?.setWeights(w) }
            }
        }
    }
}

/// Sets the learning rate at the start of each epoch from `schedule(epoch, currentRate)`.
/// Keras: `LearningRateScheduler`.
public final class LearningRateScheduler: Callback {
    let schedule: (Int, Double) -> Double
    public init(_ schedule: @escaping (Int, Double) -> Double) { self.schedule = schedule }
    public override func onEpochBegin(_ epoch: Int) {
        guard let opt = model?.optimizer else { return }
        opt.learningRate = schedule(epoch, opt.learningRate)
    }
}

/// Multiplies the learning rate by `factor` after `patience` epochs without improvement.
/// Keras: `ReduceLROnPlateau`.
public final class ReduceLROnPlateau: Callback {
    public let monitor: String, factor: Double, patience: Int, minDelta: Double, minLR: Double
    private var best = Double.infinity, wait = 0
    public init(monitor: String = "val_loss", factor: Double = 0.1, patience: Int = 10, minDelta: Double = 1e-4, minLR: Double = 0) {
        (self.monitor, self.factor, self.patience, self.minDelta, self.minLR) = (monitor, factor, patience, minDelta, minLR)
    }
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        guard let v = logs[monitor], let opt = model?.optimizer else { return }
        if v < best - minDelta { best = v; wait = 0; return }
        wait += 1
        if wait >= patience {
            opt.learningRate = Swift.max(opt.learningRate * factor, minLR)
            wait = 0
        }
    }
}

/// Stops training with a message when the loss becomes NaN or infinite. Keras: `TerminateOnNaN`.
public final class TerminateOnNaN: Callback {
    public private(set) var terminated = false
    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) {
        if let loss = logs["loss"], !loss.isFinite {
            print("Batch \(batch): invalid loss \(loss), terminating training")
            terminated = true
            model?.stopTraining = true
        }
    }
}

/// Appends one CSV row per epoch (epoch and sorted metrics). Keras: `CSVLogger`.
public final class CSVLogger: Callback {
    public let path: String, separator: String, append: Bool
    private var keys: [String]?
    public init(_ path: String, separator: String = ",", append: Bool = false) {
        (self.path, self.separator, self.append) = (path, separator, append)
    }
    public override func onTrainBegin() {
        keys = nil
        if !append { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    }
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        var text = ""
        if keys == nil {
            keys = logs.keys.sorted()
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if size == 0 { text += (["epoch"] + keys!).joined(separator: separator) + "\n" }
        }
        text += ([String(epoch)] + keys!.map { logs[$0].map { String($0) } ?? "" }).joined(separator: separator) + "\n"
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        }
    }
}

/// A callback from closures. Keras: `LambdaCallback`.
public final class LambdaCallback: Callback {
    let epochBegin: ((Int) -> Void)?, epochEnd: ((Int, [String: Double]) -> Void)?
    let batchEnd: ((Int, [String: Double]) -> Void)?, trainBegin: (() -> Void)?, trainEnd: (() -> Void)?
    public init(onEpochBegin: ((Int) -> Void)? = nil, onEpochEnd: ((Int, [String: Double]) -> Void)? = nil,
                onBatchEnd: ((Int, [String: Double]) -> Void)? = nil, onTrainBegin: (() -> Void)? = nil,
                onTrainEnd: (() -> Void)? = nil) {
        (epochBegin, epochEnd, batchEnd, trainBegin, trainEnd) = (onEpochBegin, onEpochEnd, onBatchEnd, onTrainBegin, onTrainEnd)
    }
    public override func onEpochBegin(_ epoch: Int) { epochBegin?(epoch) }
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) { epochEnd?(epoch, logs) }
    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) { batchEnd?(batch, logs) }
    public override func onTrainBegin() { trainBegin?() }
    public override func onTrainEnd() { trainEnd?() }
}
