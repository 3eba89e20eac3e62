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

/// Which way a monitored quantity should go. Keras's `mode`: `"auto"`, `"min"` or `"max"`
/// (a string literal works: `mode: "max"`; an unknown one warns and means `.auto`, as Keras).
public enum MonitorMode: String, Sendable, ExpressibleByStringLiteral {
    /// The monitored metric's own direction (Keras 3: the compiled metric's `_direction`;
    /// `loss` and output losses go down).
    case auto
    case min, max

    public init(stringLiteral value: String) {
        if let mode = MonitorMode(rawValue: value) { self = mode } else {
            Lamina.logger.warning("monitor mode '\(value)' is unknown (auto, min or max); falling back to auto mode")
            self = .auto
        }
    }
}

/// A callback that watches one logged quantity (`EarlyStopping`, `ReduceLROnPlateau`,
/// `ModelCheckpoint`). Keras: `MonitorCallback`.
///
/// Mode `.auto` reads the direction as Keras 3 does: `loss` (and `val_loss`, output losses)
/// is minimized; a compiled metric is maximized or minimized by its `direction` (accuracies,
/// AUC, precision, recall and F-scores go up; errors go down). A quantity no metric explains is
/// judged by its name (`acc`, `auc`, `precision`, `recall`, `f1`, `fbeta`, `iou`, `r2` go up;
/// losses and errors down) and otherwise minimized with a warning, where Keras 3 raises. A
/// monitor that is not among the logs warns once, naming the logged quantities.
open class MonitorCallback: Callback {
    public let monitor: String
    /// The mode as given.
    public let requestedMode: MonitorMode
    /// `.min` or `.max`: the given mode, or what `.auto` reads (from the name at first, and from
    /// the model's metrics once training).
    public internal(set) var mode: MonitorMode
    private var readFromModel = false, warnedMissing = false, warnedDirection = false

    public init(monitor: String, mode: MonitorMode) {
        (self.monitor, requestedMode) = (monitor, mode)
        self.mode = mode == .auto ? (MonitorCallback.direction(of: monitor, model: nil) == .up ? .max : .min) : mode
        super.init()
    }

    /// What `.auto` means for `monitor`, from the model's compiled metrics when given, else from
    /// the name; nil when neither tells.
    static func direction(of monitor: String, model: Model?) -> MetricDirection? {
        let name = monitor.hasPrefix("val_") ? String(monitor.dropFirst(4)) : monitor
        if name == "loss" || name.hasSuffix("_loss") { return .down }
        if let model {
            for (key, metric) in zip(model.metricKeys, model.compiledMetrics) where key == name || metric.name == name {
                if let d = metric.direction { return d }
            }
            for metric in model.metrics where metric.name == name {
                if let d = metric.direction { return d }
            }
        }
        let lower = name.lowercased()
        if ["acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2"].contains(where: lower.contains) { return .up }
        if ["error", "mse", "mae", "crossentropy", "hinge", "divergence"].contains(where: lower.contains) { return .down }
        return nil
    }

    /// Call at the start of training: `.auto` is read again from the model (it may have been
    /// compiled anew).
    public func monitorTrainBegan() { readFromModel = false }

    /// Settles `mode` for `.auto` from the model's metrics (once per `fit`).
    public func settleMode() {
        guard requestedMode == .auto, !readFromModel, let model else { return }
        readFromModel = true
        if let d = Self.direction(of: monitor, model: model) { mode = d == .up ? .max : .min; return }
        mode = .min
        if !warnedDirection {
            warnedDirection = true
            Lamina.logger.warning("\(type(of: self)): cannot tell whether '\(monitor)' should be maximized or minimized; minimizing it (pass mode: .max to maximize)")
        }
    }

    /// The monitored value in `logs`; when absent, nil and (once) a warning naming what is there.
    public func monitorValue(_ logs: [String: Double]) -> Double? {
        if let value = logs[monitor] { return value }
        if !warnedMissing {
            warnedMissing = true
            Lamina.logger.warning("\(type(of: self)) is conditioned on '\(monitor)', which is not available. Available metrics are: \(logs.keys.sorted().joined(separator: ", "))")
        }
        return nil
    }
}

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

/// Stops when `monitor` has not improved by `minDelta` for `patience` epochs; optionally
/// restores the best weights. Keras: `EarlyStopping`.
public final class EarlyStopping: MonitorCallback {
    public let minDelta: Double, patience: Int, restoreBestWeights: Bool
    /// A value the monitored quantity must beat for an improvement to reset the patience
    /// (Keras's `baseline`); nil: any improvement does.
    public let baseline: Double?
    /// Epochs (0-based) before this one are not monitored (a warm-up). Keras: `start_from_epoch`.
    public let startFromEpoch: Int
    public private(set) var stoppedEpoch = 0
    /// The epoch of the best monitored value so far.
    public private(set) var bestEpoch = 0
    private var best = Double.infinity, wait = 0, bestWeights: [Tensor]?

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
public final class ReduceLROnPlateau: MonitorCallback {
    public let factor: Double, patience: Int, minDelta: Double, minLR: Double
    /// Epochs to wait after a reduction before counting epochs without improvement again.
    /// Keras: `cooldown`.
    public let cooldown: Int
    private var best = Double.infinity, wait = 0, cooldownCounter = 0
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
        guard Strategy.isChief else { return }   // under DataParallel, rank 0 writes the log
        if !append { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    }
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        guard Strategy.isChief else { return }
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
    public typealias Logs = [String: Double]
    let epochBegin: ((Int) throws -> Void)?, epochEnd: ((Int, Logs) throws -> Void)?
    let batchEnd: ((Int, Logs) throws -> Void)?, trainBegin: (() throws -> Void)?, trainEnd: (() throws -> Void)?
    /// Each closure may throw to end `fit` with its error.
    public init(onEpochBegin: ((Int) throws -> Void)? = nil, onEpochEnd: ((Int, Logs) throws -> Void)? = nil,
                onBatchEnd: ((Int, Logs) throws -> Void)? = nil, onTrainBegin: (() throws -> Void)? = nil,
                onTrainEnd: (() throws -> Void)? = nil) {
        (epochBegin, epochEnd, batchEnd, trainBegin, trainEnd) = (onEpochBegin, onEpochEnd, onBatchEnd, onTrainBegin, onTrainEnd)
    }
    public override func onEpochBegin(_ epoch: Int) throws { try epochBegin?(epoch) }
    public override func onEpochEnd(_ epoch: Int, logs: Logs) throws { try epochEnd?(epoch, logs) }
    public override func onBatchEnd(_ batch: Int, logs: Logs) throws { try batchEnd?(batch, logs) }
    public override func onTrainBegin() throws { try trainBegin?() }
    public override func onTrainEnd() throws { try trainEnd?() }
}

/// Saves the model (or its weights) at the end of each epoch, or only when `monitor`
/// improves. Keras: `ModelCheckpoint(filepath, monitor="val_loss", save_best_only=False)`.
///
/// `filepath` may name the epoch (1-based) and any logged value as Keras does:
/// `"ckpt-{epoch:02d}-{val_loss:.3f}.lamina"`. Each save is atomic, and a model file keeps
/// the optimizer and random state, so `Sequential.load` on a checkpoint and
/// `fit(..., initialEpoch: model.epoch)` continue the run exactly. A failed save ends `fit`
/// with the error.
public final class ModelCheckpoint: MonitorCallback {
    public let filepath: String, saveBestOnly: Bool, saveWeightsOnly: Bool, verbose: Int
    /// `.epoch` (Keras's `"epoch"`): save at the end of each epoch; `.batches(n)` (Keras's
    /// integer): every `n` batches, counted across epochs, judged on the batch logs, with
    /// `{batch}` (1-based, within the epoch) available to `filepath`.
    public let saveFreq: UpdateFrequency
    /// The best monitored value so far (nil before the first).
    public private(set) var best: Double?
    /// The files written, in order.
    public private(set) var saved: [String] = []
    private var currentEpoch = 0, batchesSinceSave = 0

    public init(filepath: String, monitor: String = "val_loss", verbose: Int = 0, saveBestOnly: Bool = false,
                saveWeightsOnly: Bool = false, mode: MonitorMode = .auto, saveFreq: UpdateFrequency = .epoch) {
        (self.filepath, self.verbose, self.saveBestOnly, self.saveWeightsOnly, self.saveFreq) =
            (filepath, verbose, saveBestOnly, saveWeightsOnly, saveFreq)
        super.init(monitor: monitor, mode: mode)
    }

    public override func onTrainBegin() { monitorTrainBegan() }

    public override func onEpochBegin(_ epoch: Int) { currentEpoch = epoch }

    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) throws {
        guard case .batches(let n) = saveFreq else { return }
        batchesSinceSave += 1
        guard batchesSinceSave >= n else { return }
        batchesSinceSave = 0
        try save(epoch: currentEpoch, batch: batch, logs: logs)
    }

    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) throws {
        guard saveFreq == .epoch else { return }
        try save(epoch: epoch, batch: nil, logs: logs)
    }

    private func save(epoch: Int, batch: Int?, logs: [String: Double]) throws {
        guard let model else { return }
        let path = try Self.format(filepath, epoch: epoch + 1, batch: batch.map { $0 + 1 }, logs: logs)
        if saveBestOnly {
            settleMode()
            // Absent: warned once, nothing saved.
            guard let value = monitorValue(logs) else { return }
            let improved = best.map { mode == .max ? value > $0 : value < $0 } ?? true
            guard improved else {
                if verbose > 0 { print("Epoch \(epoch + 1): \(monitor) did not improve from \(best!)") }
                return
            }
            if verbose > 0 { print("Epoch \(epoch + 1): \(monitor) improved from \(best.map { "\($0)" } ?? "inf") to \(value), saving model to \(path)") }
            best = value
        } else if verbose > 0 {
            print("Epoch \(epoch + 1): saving model to \(path)")
        }
        if saveWeightsOnly { try model.saveWeights(to: URL(fileURLWithPath: path)) } else { try model.save(path) }
        saved.append(path)
    }

    /// Python's `str.format` for the placeholders Keras users write: `{epoch}`, `{epoch:02d}`,
    /// `{val_loss:.2f}`, `{loss:.3e}`.
    static func format(_ template: String, epoch: Int, batch: Int? = nil, logs: [String: Double]) throws -> String {
        var out = "", rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw LaminaError.configuration("ModelCheckpoint: unclosed '{' in \(template)")
            }
            let field = rest[rest.index(after: open)..<close]
            let parts = field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]), spec = parts.count > 1 ? String(parts[1]) : ""
            let value: Double
            if key == "epoch" { value = Double(epoch) } else if key == "batch", let batch { value = Double(batch) } else if let v = logs[key] { value = v } else {
                throw LaminaError.configuration("ModelCheckpoint: '\(key)' in \(template) is neither epoch nor a logged value (\(logs.keys.sorted().joined(separator: ", ")))")
            }
            guard spec.range(of: #"^[0-9]*(\.[0-9]+)?[dfeg]?$"#, options: .regularExpression) != nil else {
                throw LaminaError.configuration("ModelCheckpoint: format '\(spec)' in \(template) is not supported (use d, f, e or g)")
            }
            if spec.isEmpty {
                out += key == "epoch" ? String(epoch) : key == "batch" && batch != nil ? String(batch!) : String(value)
            } else if spec.hasSuffix("d") {
                out += String(format: "%" + spec.dropLast() + "ld", Int(value.rounded()))
            } else {
                out += String(format: "%" + spec, value)
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
