import Foundation

/// Backs up the training state during `fit` and restores it when `fit` starts again after an
/// interruption. Keras: `keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch",
/// delete_checkpoint=True)`.
///
/// Each backup is one file, `latest.lamina` in `backupDir`, written atomically (a process killed
/// while writing leaves the previous backup): the weights, the optimizer's slots and iteration
/// count, the epochs completed, and the random generators' states. When `fit` begins and that
/// file exists, the model takes its weights and optimizer state from it and training starts
/// at the epoch after the last one backed up (replacing `fit`'s `initialEpoch`, as in Keras).
/// With epoch backups, the resumed run then draws the same shuffles and dropout masks as an
/// uninterrupted one, so it ends with the same weights.
///
/// ```swift
/// let backup = BackupAndRestore(backupDir: "/tmp/backup")
/// try model.fit(x, y, epochs: 10, callbacks: [backup])   // killed during epoch 6
/// try model.fit(x, y, epochs: 10, callbacks: [backup])   // starts again at epoch 6
/// ```
///
/// Use the same model (same layer names) and the same `compile` arguments on restart: the
/// backup names each weight and optimizer slot; a backup that does not fit is a `LaminaError`
/// and changes nothing. (Keras requires the model built before `fit`; Lamina's `fit` builds it
/// from the first batch before the callbacks start, so either works.)
///
/// Differences from Keras: at a successful end only the callback's own file is deleted, and the
/// folder only when it is then empty (Keras removes the whole folder). As in Keras, with
/// `saveFreq: .batches(n)` a restart repeats the interrupted epoch from its first batch,
/// starting from the weights of the last backup.
public final class BackupAndRestore: Callback {
    /// The folder that holds the backup. Keras: `backup_dir`.
    public let backupDir: String
    /// `.epoch`: back up at the end of each epoch; `.batches(n)`: every `n` batches, counted
    /// across epochs. Keras: `save_freq`.
    public let saveFreq: UpdateFrequency
    /// Whether the backup is deleted when `fit` ends normally. Keras: `delete_checkpoint`.
    public let deleteCheckpoint: Bool
    /// The epoch `fit` resumed from in its latest run (nil when no backup was restored).
    public private(set) var restoredEpoch: Int?
    private var batchesSinceSave = 0

    /// The backup file: `latest.lamina` in `backupDir`.
    public var backupPath: String { (backupDir as NSString).appendingPathComponent("latest.lamina") }

    /// - Parameters:
    ///   - backupDir: the folder for the backup (created when missing). Keep it for this run's
    ///     backup alone.
    ///   - saveFreq: `.epoch` (or `"epoch"`) or a number of batches (`saveFreq: 100`).
    ///   - deleteCheckpoint: delete the backup when `fit` ends without error.
    ///
    /// An empty `backupDir` is a `LaminaError` thrown when training begins.
    public init(backupDir: String, saveFreq: UpdateFrequency = .epoch, deleteCheckpoint: Bool = true) {
        (self.backupDir, self.saveFreq, self.deleteCheckpoint) = (backupDir, saveFreq, deleteCheckpoint)
    }

    /// Restores the backup, when there is one, into the model and sets the first epoch.
    public override func onTrainBegin() throws {
        batchesSinceSave = 0
        restoredEpoch = nil
        guard !backupDir.isEmpty else { throw LaminaError.value("BackupAndRestore: backupDir is empty") }
        guard let model, FileManager.default.fileExists(atPath: backupPath) else { return }
        guard model.isBuilt else {
            throw LaminaError.value("BackupAndRestore: \(model.name) must be built before fit to restore \(backupPath) "
                + "(give the first layer an inputShape, or call the model on a batch)")
        }
        let epoch = try ModelFile.restore(URL(fileURLWithPath: backupPath), into: model)
        model.resumeEpoch = epoch
        restoredEpoch = epoch
    }

    /// Backs up every `n` batches when `saveFreq` is `.batches(n)`.
    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) throws {
        guard case .batches(let n) = saveFreq else { return }
        batchesSinceSave += 1
        guard batchesSinceSave >= n else { return }
        batchesSinceSave = 0
        try backup()
    }

    /// Backs up at the end of each epoch when `saveFreq` is `.epoch`.
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) throws {
        if saveFreq == .epoch { try backup() }
    }

    /// Deletes the backup when `deleteCheckpoint` (only reached when `fit` did not throw).
    public override func onTrainEnd() throws {
        guard deleteCheckpoint, Strategy.isChief else { return }
        let files = FileManager.default
        if files.fileExists(atPath: backupPath) { try files.removeItem(atPath: backupPath) }
        if let rest = try? files.contentsOfDirectory(atPath: backupDir), rest.isEmpty { try? files.removeItem(atPath: backupDir) }
    }

    private func backup() throws {
        guard let model, Strategy.isChief else { return }
        try FileManager.default.createDirectory(atPath: backupDir, withIntermediateDirectories: true)
        let (tensors, metadata) = try ModelFile.contents(of: model)
        try Safetensors.save(tensors, metadata: metadata, to: URL(fileURLWithPath: backupPath))
    }
}

extension ModelFile {
    /// Sets `model`'s weights, optimizer slots and iterations, random generators and `epoch`
    /// from a file written by `save` for a model of the same layers; returns the epochs it had
    /// completed. Nothing changes when the file does not fit the model.
    static func restore(_ url: URL, into model: Model) throws -> Int {
        let file = url.lastPathComponent
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(file): \(why)") }
        let (tensors, metadata) = try Safetensors.load(url)
        guard metadata["format"] == format, let stateText = metadata["training_state"] else {
            throw fail("not a Lamina model file (no \"format\": \"\(format)\" and training state in its metadata)")
        }
        let state = try object(stateText, "training_state", fail)
        let r = ConfigReader(className: "training_state", values: state)
        let epoch: Int, iterations: Int, random: RandomGenerator
        var layerGenerators: [String: RandomGenerator] = [:]
        do {
            epoch = try r.int("epoch", minimum: 0)
            iterations = try r.int("iterations", default: 0, minimum: 0)
            random = try generator(r.value("random_state"), "random_state", fail)
            if let list = r.value("layer_random_states") {
                guard let map = list as? [String: Any] else { throw fail("layer_random_states must be an object") }
                for (name, value) in map { layerGenerators[name] = try generator(value, "layer_random_states.\(name)", fail) }
            }
            try r.finish()
        } catch let error as LaminaError where error.kind == .configuration {
            throw fail(error.message)
        }
        let (weights, slots) = (tensors.filter { !$0.name.hasPrefix("optimizer/") }, tensors.filter { $0.name.hasPrefix("optimizer/") })
        try model.assignWeights(Dictionary(weights.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }), file: file)
        try restoreOptimizer(model, slots: slots, iterations: iterations, fail)
        for case let d as any RandomLayer in model.descendants { if let g = layerGenerators[d.name] { d.generator = g } }
        GlobalRandom.current = random
        model.epoch = epoch
        return epoch
    }
}
