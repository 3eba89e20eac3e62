import Foundation

/// Saves the model (or its weights) at the end of each epoch, or only when `monitor`
/// improves. Keras: `ModelCheckpoint(filepath, monitor="val_loss", save_best_only=False)`.
///
/// `filepath` may name the epoch (1-based) and any logged value as Keras does:
/// `"ckpt-{epoch:02d}-{val_loss:.3f}.lamina"`. Each save is atomic, and a model file keeps
/// the optimizer and random state, so `Sequential.load` on a checkpoint and
/// `fit(..., initialEpoch: model.epoch)` continue the run exactly. A failed save ends `fit`
/// with the error.
public final class ModelCheckpoint: MonitorCallback {
    /// The path pattern, whether to save only on improvement, whether to save only the weights, and the verbosity (above 0 prints each save or skip).
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

    /// Keras: `keras.callbacks.ModelCheckpoint(filepath, monitor="val_loss", verbose=0, save_best_only=False,`
    /// `save_weights_only=False, mode="auto", save_freq="epoch")`.
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
