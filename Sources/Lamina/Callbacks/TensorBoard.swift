import Foundation

/// When `TensorBoard` writes batch-level scalars (Keras's `update_freq`: `"epoch"`, `"batch"` or
/// a number of batches) and when `ModelCheckpoint` saves (Keras's `save_freq`), spelled the same
/// way here (`updateFreq: "batch"`, `saveFreq: 100`).
public enum UpdateFrequency: Equatable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    /// Epoch-level scalars only.
    case epoch
    /// Also `batch_<name>` scalars every this many batches (counted over the whole `fit`).
    case batches(Int)

    /// Every batch.
    public static var batch: UpdateFrequency { .batches(1) }

    /// `"epoch"` or `"batch"`; anything else warns and means `"epoch"`.
    public init(stringLiteral value: String) {
        switch value {
        case "epoch": self = .epoch
        case "batch": self = .batches(1)
        default:
            Lamina.logger.warning("update frequency '\(value)' is neither \"epoch\", \"batch\" nor a number of batches; using \"epoch\"")
            self = .epoch
        }
    }

    /// Every `value` batches; a count below 1 warns and means `"epoch"`.
    public init(integerLiteral value: Int) {
        if value >= 1 { self = .batches(value) } else {
            Lamina.logger.warning("update frequency \(value) is below 1; using \"epoch\"")
            self = .epoch
        }
    }
}

/// Writes TensorBoard event files during `fit`, laid out as Keras lays them out. Keras:
/// `keras.callbacks.TensorBoard(log_dir, histogram_freq, write_graph, write_steps_per_second,
/// update_freq)`; view them with `tensorboard --logdir logs`.
///
/// ```swift
/// try model.fit(x, y, epochs: 10, validationSplit: 0.2,
///               callbacks: [TensorBoard(logDir: "logs/run1", histogramFreq: 1, updateFreq: 100)])
/// ```
///
/// What goes where (Keras 3's tags and steps):
/// - `logDir/train/`: `epoch_loss`, `epoch_<metric>` and `epoch_learning_rate` at step `epoch`
///   (0-based), `epoch_steps_per_second` with `writeStepsPerSecond`; `batch_loss` and
///   `batch_<metric>` (the batch logs callbacks get) at the 1-based count of batches since
///   `fit` began, every `updateFreq` batches; `<weight path>/histogram` for every layer's weights
///   (Keras 3's paths: `sequential/dense/kernel/histogram` in a Sequential model named
///   `sequential`, `dense/kernel/histogram` in a functional one) at the epochs where
///   `epoch % histogramFreq == 0` (when
///   `histogramFreq > 0`); and with `writeGraph`, the model's Keras config under the tag `keras`
///   (plugin `graph_keras_model`), which TensorBoard's Graphs dashboard draws as Keras's
///   conceptual graph.
/// - `logDir/validation/`: `epoch_loss` and `epoch_<metric>` from the `val_` logs at step
///   `epoch`, and `evaluation_<name>_vs_iterations` at the optimizer's step count.
///
/// Keras 3 writes each value as a TensorFlow 2 tensor summary; this writes the classic forms
/// (`simple_value` scalars, `HistogramProto` histograms), as PyTorch's `SummaryWriter` does.
/// TensorBoard shows both alike (it converts the classic forms when it loads them), and its
/// `EventAccumulator` lists these under `Scalars` and `Histograms`.
///
/// Each `fit` starts new event files (one per folder); under a distribution strategy only the
/// chief process writes. Not written: profiles, weight images and embeddings (Keras's
/// `profile_batch`, `write_images`, `embeddings_freq`). A file that cannot be written ends `fit`
/// with the error.
public final class TensorBoard: Callback {
    /// Keras's `log_dir` (the runs go in `train/` and `validation/` under it), `histogram_freq` (weight
    /// histograms every n epochs; 0: none), `write_graph` (the model graph) and `write_steps_per_second`.
    public let logDir: String, histogramFreq: Int, writeGraph: Bool, writeStepsPerSecond: Bool
    /// Keras's `update_freq`: epoch-level scalars only, or also batch-level ones every n batches.
    public let updateFreq: UpdateFrequency
    /// The writers of the current (or last) `fit`: `train/`, and `validation/` once validation logs came.
    public private(set) var trainWriter: SummaryWriter?, validationWriter: SummaryWriter?
    /// Every event file this callback has written, in the order they were opened.
    public private(set) var eventFiles: [String] = []
    private var globalBatch = 0, iterationsAtEpochBegin = 0
    private var epochBegan = Date(), lastBatchEnded = Date()

    /// Keras: `keras.callbacks.TensorBoard(log_dir="logs", histogram_freq=0, write_graph=True,
    /// write_steps_per_second=False, update_freq="epoch")`. A negative `histogramFreq` is a
    /// `LaminaError` thrown when training begins.
    public init(logDir: String = "logs", histogramFreq: Int = 0, writeGraph: Bool = true, writeStepsPerSecond: Bool = false,
                updateFreq: UpdateFrequency = .epoch) {
        // A bad argument is thrown when training begins, not a precondition that kills the process.
        argumentError = histogramFreq < 0 ? LaminaError.value("TensorBoard: histogramFreq \(histogramFreq) must not be negative") : nil
        (self.logDir, self.histogramFreq, self.writeGraph, self.writeStepsPerSecond, self.updateFreq) =
            (logDir, histogramFreq, writeGraph, writeStepsPerSecond, updateFreq)
    }

    private var trainDir: String { (logDir as NSString).appendingPathComponent("train") }
    private var validationDir: String { (logDir as NSString).appendingPathComponent("validation") }

    private let argumentError: LaminaError?

    public override func onTrainBegin() throws {
        if let argumentError { throw argumentError }
        try closeWriters()
        globalBatch = 0
        guard Strategy.isChief else { return }
        let writer = try SummaryWriter(logDir: trainDir)
        trainWriter = writer
        eventFiles.append(writer.path)
        if writeGraph, let model {
            // Keras's `keras_model_summary("keras", model, step=0)`: the model's JSON config.
            if let config = try? model.serialize(),
               let json = try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]) {
                try writer.text("keras", String(decoding: json, as: UTF8.self), step: 0, plugin: "graph_keras_model",
                                pluginContent: Array("1".utf8))
            } else {
                Lamina.logger.info("TensorBoard: \(model.name) has no Keras config (a subclassed model?); no graph written")
            }
        }
    }

    public override func onEpochBegin(_ epoch: Int) {
        epochBegan = Date()
        lastBatchEnded = epochBegan
        iterationsAtEpochBegin = model?.optimizer?.iterations ?? 0
    }

    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) throws {
        globalBatch += 1
        let now = Date()
        defer { lastBatchEnded = now }
        guard let writer = trainWriter, case .batches(let n) = updateFreq, globalBatch % n == 0 else { return }
        for (name, value) in logs.sorted(by: { $0.key < $1.key }) { try writer.scalar("batch_\(name)", value: value, step: globalBatch) }
        if writeStepsPerSecond {
            let seconds = now.timeIntervalSince(lastBatchEnded)
            if seconds > 0 { try writer.scalar("batch_steps_per_second", value: 1 / seconds, step: globalBatch) }
        }
    }

    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) throws {
        guard let train = trainWriter else { return }
        var trainLogs = logs.filter { !$0.key.hasPrefix("val_") }
        let validationLogs = logs.filter { $0.key.hasPrefix("val_") }
        if let optimizer = model?.optimizer {
            trainLogs["learning_rate"] = optimizer.currentLearningRate
            if writeStepsPerSecond {
                let seconds = Date().timeIntervalSince(epochBegan)
                if seconds > 0 { trainLogs["steps_per_second"] = Double(optimizer.iterations - iterationsAtEpochBegin) / seconds }
            }
        }
        for (name, value) in trainLogs.sorted(by: { $0.key < $1.key }) { try train.scalar("epoch_\(name)", value: value, step: epoch) }
        if !validationLogs.isEmpty {
            let writer = try validationWriter ?? SummaryWriter(logDir: validationDir)
            if validationWriter == nil { eventFiles.append(writer.path) }
            validationWriter = writer
            let iterations = model?.optimizer?.iterations ?? 0
            for (key, value) in validationLogs.sorted(by: { $0.key < $1.key }) {
                let name = String(key.dropFirst(4))
                try writer.scalar("evaluation_\(name)_vs_iterations", value: value, step: iterations)
                try writer.scalar("epoch_\(name)", value: value, step: epoch)
            }
            try writer.flush()
        }
        if histogramFreq > 0, epoch % histogramFreq == 0, let model {
            // Keras 3's weight paths: a Sequential model builds its layers inside its own name
            // scope (`sequential/dense/kernel`); a functional model's layers are built outside it.
            let prefix = model is Sequential ? model.name + "/" : ""
            for layer in model.layers {
                for weight in layer.weights {
                    let path = weight.name.hasPrefix(prefix) ? weight.name : prefix + weight.name
                    try train.histogram(path.replacingOccurrences(of: ":", with: "_") + "/histogram",
                                        values: weight.value.scalarsAsDouble(), step: epoch)
                }
            }
        }
        try train.flush()
    }

    public override func onTrainEnd() throws { try closeWriters() }

    private func closeWriters() throws {
        let writers = [trainWriter, validationWriter].compactMap { $0 }
        (trainWriter, validationWriter) = (nil, nil)
        for w in writers { try w.close() }
    }
}
