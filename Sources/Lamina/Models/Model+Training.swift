import Foundation

extension Model {
    /// Configures training. Keras: `model.compile(optimizer, loss, metrics)`.
    /// Layers with `trainable = false` now stay frozen for this model, whatever their flag
    /// later says (Keras 2 semantics, which the classic GAN recipe relies on). A model with
    /// several outputs applies `loss` to each (as Keras) and takes metrics per output from
    /// `compile(optimizer:loss:lossWeights:metrics:)`.
    public func compile(optimizer: Optimizer = .rmsprop, loss: Loss, metrics: [Metric] = []) {
        let outputs = max(outputCount, 1)
        setCompiled(optimizer, losses: [Loss](repeating: loss, count: outputs), lossWeights: nil,
                    metrics: metrics.map { ($0, 0) },
                    error: outputs > 1 && !metrics.isEmpty
                        ? "\(name) has \(outputs) outputs: give metrics per output (metrics: [[.accuracy], []] or by output name)" : nil)
    }

    /// Several outputs: a loss for each (in `outputs` order), their weights in the total loss
    /// (default 1 each) and the metrics of each output. Keras: `compile(loss=[...], loss_weights=[...],
    /// metrics=[[...], [...]])`.
    public func compile(optimizer: Optimizer = .rmsprop, loss: [Loss], lossWeights: [Double]? = nil, metrics: [[Metric]] = []) {
        var error: String?
        if loss.count != outputCount { error = "\(name) has \(outputCount) outputs \(outputNames), got \(loss.count) losses" }
        if let lossWeights, lossWeights.count != outputCount { error = "\(name) has \(outputCount) outputs, got \(lossWeights.count) loss weights" }
        if !metrics.isEmpty && metrics.count != outputCount { error = "\(name) has \(outputCount) outputs, got metrics for \(metrics.count)" }
        if let bad = lossWeights?.first(where: { !$0.isFinite }) { error = "loss weight \(bad) is not finite" }
        setCompiled(optimizer, losses: loss, lossWeights: lossWeights, metrics: metrics.enumerated().flatMap { i, ms in ms.map { ($0, i) } },
                    error: error)
    }

    /// Losses, loss weights and metrics by output name (`outputNames`, the output layers'
    /// names). Keras: `compile(loss={"cls": ..., "score": ...}, loss_weights={...}, metrics={...})`.
    public func compile(optimizer: Optimizer = .rmsprop, loss: [String: Loss], lossWeights: [String: Double]? = nil,
                        metrics: [String: [Metric]] = [:]) {
        let names = outputNames
        let unknown = Set(loss.keys).union(lossWeights?.keys ?? [:].keys).union(metrics.keys).subtracting(names)
        let missing = names.filter { loss[$0] == nil }
        var error: String?
        if !unknown.isEmpty { error = "\(name) has no output named \(unknown.sorted()); its outputs are \(names)" }
        else if !missing.isEmpty { error = "\(name): no loss for output \(missing)" }
        setCompiled(optimizer, losses: names.map { loss[$0] ?? .meanSquaredError }, lossWeights: lossWeights.map { w in names.map { w[$0] ?? 1 } },
                    metrics: names.enumerated().flatMap { i, n in (metrics[n] ?? []).map { ($0, i) } }, error: error)
    }

    // Keras strings, and names mixed with objects (`compile(optimizer: "adam", loss:
    // "sparse_categorical_crossentropy", metrics: ["accuracy", AUC()])`): CompileArguments.swift.

    private func setCompiled(_ optimizer: Optimizer, losses: [Loss], lossWeights: [Double]?, metrics: [(Metric, Int)], error: String?) {
        self.optimizer = optimizer
        self.loss = losses.first
        outputLosses = losses
        self.lossWeights = lossWeights ?? [Double](repeating: 1, count: losses.count)
        compiledMetrics = metrics.map(\.0)
        metricOutputs = metrics.map(\.1)
        compileError = error.map { LaminaError(.configuration, "compile: \($0)") }
        var frozen = Set<ObjectIdentifier>()
        func collect(_ layer: Layer, _ parentFrozen: Bool) {
            let isFrozen = parentFrozen || !layer.trainable
            if isFrozen { frozen.insert(ObjectIdentifier(layer)) }
            for sub in layer.sublayers { collect(sub, isFrozen) }
        }
        for layer in layers { collect(layer, !trainable) }
        frozenAtCompile = frozen
    }

    /// The variables this compiled model trains: trainable weights of layers not frozen at
    /// compile, each once (a shared layer's weights are one set).
    package var variablesToTrain: [Variable] {
        var out: [Variable] = [], seen = Set<ObjectIdentifier>()
        func collect(_ layer: Layer) {
            guard !frozenAtCompile.contains(ObjectIdentifier(layer)) else { return }
            for v in layer.ownWeights where v.trainable && seen.insert(ObjectIdentifier(v)).inserted { out.append(v) }
            layer.sublayers.forEach(collect)
        }
        layers.forEach(collect)
        return out
    }

    // MARK: - Validation

    package func requireCompiled() throws -> Optimizer {
        try checkDefinition()
        guard let optimizer, !outputLosses.isEmpty else { throw LaminaError.configuration("\(name): call compile(optimizer:loss:metrics:) before training") }
        if let compileError { throw compileError }
        return optimizer
    }

    /// The model's inputs by name (`inputNames`) in order.
    package func ordered(_ named: [String: Tensor], _ names: [String], _ what: String) throws -> [Tensor] {
        let unknown = Set(named.keys).subtracting(names)
        guard unknown.isEmpty else { throw LaminaError.value("\(name) has no \(what) named \(unknown.sorted()); its \(what)s are \(names)") }
        return try names.map { n in
            guard let t = named[n] else { throw LaminaError.value("\(name): no data for \(what) '\(n)' (given: \(named.keys.sorted()))") }
            return t
        }
    }

    /// Checks the inputs against the model (building it if needed) and casts them to the model's dtype.
    package func prepareInputs(_ xs: [Tensor]) throws -> [Tensor] {
        try checkDefinition()
        guard xs.count == inputCount else {
            throw LaminaError.shape("\(name) takes \(inputCount) input\(inputCount == 1 ? "" : "s") \(inputNames), got \(xs.count)")
        }
        for x in xs {
            guard x.rank >= 1, x.shape[0] > 0 else { throw LaminaError.shape("\(name): expected a batch of inputs, got shape \(x.shape)") }
            guard x.shape[0] == xs[0].shape[0] else {
                throw LaminaError.shape("\(name): the inputs have different numbers of samples \(xs.map { $0.shape[0] })")
            }
        }
        if let sequential = self as? Sequential, sequential.layers.isEmpty { throw LaminaError.configuration("\(name) has no layers") }
        let samples = xs.map { Array($0.shape.dropFirst()) }
        let floating = xs[0].dtype.isFloatingPoint ? xs[0].dtype : DType.float32
        if inputCount == 1 && (isSubclassed || outputCount == 1) {
            try checkInputShape(samples[0])
            try buildIfNeeded(samples[0], dtype: floating)
        } else {
            _ = try buildAll(samples, dtype: floating)
        }
        return xs.map { $0.dtype == dtype ? $0 : $0.cast(to: dtype) }
    }

    /// Checks the labels against the outputs and the losses: one per output, one row per sample.
    package func prepareLabels(_ ys: [Tensor], for xs: [Tensor]) throws -> [Tensor] {
        guard ys.count == outputCount else {
            throw LaminaError.shape("\(name) has \(outputCount) output\(outputCount == 1 ? "" : "s") \(outputNames), got \(ys.count) label tensors")
        }
        let n = xs[0].shape[0]
        let shapes = try outputShapes(for: xs)
        for (i, y) in ys.enumerated() {
            let which = outputCount == 1 ? "" : " for output \(outputNames[i])"
            guard y.rank >= 1, y.shape[0] == n else {
                throw LaminaError.shape("\(name): \(y.rank >= 1 ? y.shape[0] : 0) labels\(which) for \(n) inputs (labels \(y.shape), inputs \(xs[0].shape))")
            }
            let loss = outputLosses.isEmpty ? nil : outputLosses[i]
            guard let loss else { continue }
            let probe = Tensor.zeros([1] + shapes[i], dtype: dtype)
            try loss.validate(y.sliced(axis: 0, 0..<min(1, y.shape[0])).reshaped(to: [1] + y.shape.dropFirst()).cast(to: y.dtype), probe)
            if loss is SparseCategoricalCrossentropy { try loss.validate(y, Tensor.zeros([y.shape[0]] + shapes[i], dtype: dtype)) }
        }
        return ys
    }

    /// The per-sample output shapes for these (prepared) inputs.
    package func outputShapes(for xs: [Tensor]) throws -> [[Int]] {
        // One input and several outputs (a functional model with two heads) builds them all.
        if inputCount == 1 && (isSubclassed || outputCount == 1) { return [try computeOutputShape(Array(xs[0].shape.dropFirst()))] }
        return try buildAll(xs.map { Array($0.shape.dropFirst()) }, dtype: nil)
    }

    // MARK: - Steps

    /// The weighted total of the outputs' losses (sample weights scale each sample's loss,
    /// then the mean is over the batch — or over the steps an output's mask keeps: Keras's
    /// sum_over_batch_size) and each output's loss.
    func totalLoss(_ ys: [Tensor], _ predictions: [Tensor], weights: Tensor?) -> (total: Tensor, parts: [Tensor]) {
        let parts = zip(outputLosses, zip(ys, predictions)).map { loss, pair in
            loss.reduced(pair.0, pair.1, sampleWeights: weights)
        }
        let weighted = zip(parts, lossWeights).map { $1 == 1 ? $0 : $0 * $1 }
        return (weighted.dropFirst().reduce(weighted[0]) { $0 + $1 }, parts)
    }

    /// One optimizer step on a batch; returns the batch loss (with the regularization
    /// penalties, as Keras reports it), each output's loss and the predictions.
    ///
    /// `x` is this process's shard of the global batch and `share` its fraction of it (the whole
    /// batch, 1, on one process); the returned loss is the global batch's, and every process
    /// applies the same exchanged gradients. A process with no rows in this batch still takes
    /// part in the exchange.
    func trainStep(_ x: [Tensor], _ y: [Tensor], optimizer: Optimizer, weights: Tensor? = nil,
                   share: Double = 1) throws -> (loss: Double, parts: [Double], predictions: [Tensor]) {
        let vars = variablesToTrain
        let strategy = Strategy.current
        if x[0].shape[0] == 0 {
            let zeros = vars.map { Tensor.zeros($0.shape, dtype: $0.value.dtype) }
            let (grads, values) = try strategy.exchange(self, gradients: zeros, values: [Double](repeating: 0, count: 1 + outputCount), share: 0)
            if !vars.isEmpty { try optimizer.step(grads, to: vars) }
            return (values[0], Array(values.dropFirst()), x)
        }
        for v in vars { v.value.requiresGrad = true }
        defer { for v in vars { v.value.requiresGrad = false } }
        let predictions = try FrozenLayers.$current.withValue(frozenAtCompile) { try forward(x, training: true) }
        let (dataLoss, parts) = totalLoss(y, predictions, weights: weights)
        let l = losses.reduce(dataLoss) { $0 + $1 }
        let local = [l.scalarsAsDouble()[0]] + parts.map { $0.scalarsAsDouble()[0] }
        let (grads, values) = try strategy.exchange(self, gradients: vars.isEmpty ? [] : l.gradients(wrt: vars.map(\.value)),
                                                    values: local, share: share)
        if !vars.isEmpty { try optimizer.step(grads, to: vars) }
        return (values[0], Array(values.dropFirst()), predictions.map { $0.detached() })
    }

    /// Adds a batch to the compiled metrics, each on its output.
    func updateMetrics(_ ys: [Tensor], _ predictions: [Tensor]) {
        for (m, o) in zip(compiledMetrics, metricOutputs) { m.updateState(ys[o], predictions[o]) }
    }

    /// The log key of each compiled metric: its name, prefixed by its output's for models
    /// with several outputs (Keras: `cls_accuracy`).
    package var metricKeys: [String] {
        outputCount > 1 ? zip(compiledMetrics, metricOutputs).map { "\(outputNames[$1])_\($0.name)" } : compiledMetrics.map(\.name)
    }

    /// Each compiled metric's value by its log key.
    package func metricValues() -> [String: Double] {
        Dictionary(zip(metricKeys, compiledMetrics.map { $0.result() }), uniquingKeysWith: { a, _ in a })
    }

    /// Per-sample loss weights from `sampleWeight` ([n] or [n, 1]) times `classWeight[class]`
    /// (the class from integer labels, one-hot rows or 0/1 targets), as Keras combines them;
    /// nil when neither is given. Metrics stay unweighted, as Keras's `metrics=`.
    func sampleWeights(_ sampleWeight: Tensor?, _ classWeight: [Int: Double]?, labels y: Tensor, count n: Int) throws -> [Double]? {
        guard sampleWeight != nil || classWeight != nil else { return nil }
        var w = [Double](repeating: 1, count: n)
        if let sampleWeight {
            guard sampleWeight.count == n, sampleWeight.rank == 1 || (sampleWeight.rank == 2 && sampleWeight.shape[1] == 1) else {
                throw LaminaError.shape("\(name): sampleWeight \(sampleWeight.shape) must be [\(n)] (one weight per sample)")
            }
            w = sampleWeight.scalarsAsDouble()
            if let bad = w.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw LaminaError.value("\(name): sampleWeight[\(bad)] = \(w[bad]) must be finite and not negative")
            }
        }
        if let classWeight {
            let labels = y.rank >= 2 && y.shape[y.rank - 1] > 1 ? y.argmax(axis: -1).scalarsAsDouble() : y.scalarsAsDouble()
            guard labels.count == n else { throw LaminaError.shape("\(name): classWeight needs one class per sample, labels are \(y.shape)") }
            for (i, label) in labels.enumerated() {
                let c = Int(label.rounded())
                guard let factor = classWeight[c] else {
                    throw LaminaError.value("\(name): classWeight has no weight for class \(c) (sample \(i))")
                }
                w[i] *= factor
            }
        }
        return w
    }

    /// Runs a batch forward in inference mode.
    package func inferenceStep(_ x: [Tensor]) throws -> [Tensor] {
        try withoutGradients { try forward(x, training: false) }
    }

    /// Loss and metric values for callbacks and the progress bar; across processes the
    /// metrics are summed over every rank's data first. `parts` are the outputs' losses,
    /// reported as `<output>_loss` for models with several outputs.
    package func logs(loss: Double, parts: [Double] = [], prefix: String = "") throws -> [String: Double] {
        var out = [prefix + "loss": loss]
        if outputCount > 1 { for (name, value) in zip(outputNames, parts) { out[prefix + name + "_loss"] = value } }
        let metrics = try Strategy.current.metricValues(self)
        for (name, value) in metrics { out[prefix + name] = value }
        return out
    }

    // MARK: - Public training API

    /// Trains for `epochs` over `(x, y)` in shuffled mini-batches. Keras: `model.fit`.
    ///
    /// `validationSplit` holds out the *last* fraction before shuffling (as Keras);
    /// `validationData` overrides it; `validationFreq` validates after every n-th epoch only.
    /// `verbose`: 0 silent, 1 progress bar, 2 one line per epoch.
    @discardableResult
    public func fit(_ x: Tensor, _ y: Tensor, epochs: Int = 1, batchSize: Int = 32, verbose: Int = 1,
                    validationSplit: Double = 0, validationData: (Tensor, Tensor)? = nil, shuffle: Bool = true,
                    classWeight: [Int: Double]? = nil, sampleWeight: Tensor? = nil,
                    callbacks: [Callback] = [], initialEpoch: Int = 0, validationFreq: Int = 1) throws -> History {
        try fit([x], [y], epochs: epochs, batchSize: batchSize, verbose: verbose, validationSplit: validationSplit,
                validationData: validationData.map { ([$0.0], [$0.1]) }, shuffle: shuffle, classWeight: classWeight,
                sampleWeight: sampleWeight, callbacks: callbacks, initialEpoch: initialEpoch, validationFreq: validationFreq)
    }

    /// `fit` for models with several inputs or outputs: one tensor per input and per output,
    /// in `inputs` and `outputs` order. Keras: `model.fit([xa, xb], [ya, yb])`.
    @discardableResult
    public func fit(_ x: [Tensor], _ y: [Tensor], epochs: Int = 1, batchSize: Int = 32, verbose: Int = 1,
                    validationSplit: Double = 0, validationData: ([Tensor], [Tensor])? = nil, shuffle: Bool = true,
                    classWeight: [Int: Double]? = nil, sampleWeight: Tensor? = nil,
                    callbacks: [Callback] = [], initialEpoch: Int = 0, validationFreq: Int = 1) throws -> History {
        // Under DataParallel an argument error on one rank (its labels, say) ends the whole job:
        // the other ranks would otherwise wait for it in the first exchange.
        try Strategy.current.run {
            try fitTensors(x, y, epochs: epochs, batchSize: batchSize, verbose: verbose, validationSplit: validationSplit,
                           validationData: validationData, shuffle: shuffle, classWeight: classWeight, sampleWeight: sampleWeight,
                           callbacks: callbacks, initialEpoch: initialEpoch, validationFreq: validationFreq)
        }
    }

    private func fitTensors(_ x: [Tensor], _ y: [Tensor], epochs: Int, batchSize: Int, verbose: Int,
                            validationSplit: Double, validationData: ([Tensor], [Tensor])?, shuffle: Bool,
                            classWeight: [Int: Double]?, sampleWeight: Tensor?,
                            callbacks: [Callback], initialEpoch: Int, validationFreq: Int) throws -> History {
        let optimizer = try requireCompiled()
        guard batchSize > 0 else { throw LaminaError.value("fit: batchSize must be positive, got \(batchSize)") }
        guard validationFreq > 0 else { throw LaminaError.value("fit: validationFreq must be positive, got \(validationFreq)") }
        guard validationSplit >= 0 && validationSplit < 1 else { throw LaminaError.value("fit: validationSplit must be in [0, 1), got \(validationSplit)") }
        var xTrain = try prepareInputs(x)
        var yTrain = try prepareLabels(y, for: xTrain)
        if classWeight != nil && outputCount > 1 { throw LaminaError.value("fit: classWeight is for models with one output (use sampleWeight)") }
        let count = xTrain[0].shape[0]
        var weights = try sampleWeights(sampleWeight, classWeight, labels: yTrain[0], count: count)
        var validation = validationData
        if validation == nil && validationSplit > 0 {
            let split = Int((Double(count) * (1 - validationSplit)).rounded(.down))
            guard split > 0 && split < count else {
                throw LaminaError.value("fit: validationSplit \(validationSplit) of \(count) samples leaves an empty part")
            }
            validation = (xTrain.rows(split..<count), yTrain.rows(split..<count))
            xTrain = xTrain.rows(0..<split)
            yTrain = yTrain.rows(0..<split)
            weights = weights.map { Array($0[0..<split]) }   // validation is not weighted (Keras)
        }
        if let (vx, vy) = validation { _ = try prepareLabels(vy, for: try prepareInputs(vx)) }

        let n = xTrain[0].shape[0], steps = (n + batchSize - 1) / batchSize
        let (xs, ys, ws) = (xTrain, yTrain, weights)
        let validate = validation.map { (vx, vy) in { () throws -> [String: Double] in
            try self.evaluateLogs(vx, vy, batchSize: batchSize, verbose: 0)
        } }
        return try runEpochs(epochs: epochs, initialEpoch: initialEpoch, steps: steps, verbose: verbose, callbacks: callbacks,
                             validate: validate, validationFreq: validationFreq, optimizer: optimizer) { _ in
            var order = Array(0..<n)
            if shuffle {
                GlobalRandom.with { order.shuffle(using: &$0) }
                order = try Strategy.current.shareOrder(order)
            }
            var step = 0
            let strategy = Strategy.current
            return {
                guard step < steps else { return nil }
                let global = Array(order[(step * batchSize)..<min(n, (step + 1) * batchSize)])
                step += 1
                // Each process gathers only its shard of the global batch.
                let idx = Array(global[strategy.shard(global.count)])
                let wb = ws.map { w in Tensor(shape: [idx.count], scalars: idx.map { w[$0] }) }
                return EpochBatch(x: xs.map { $0.gather(rows: idx) }, y: ys.map { $0.gather(rows: idx) }, weights: wb,
                                  global: (global.count, Tensor(shape: [global.count], scalars: global.map(Double.init))))
            }
        }
    }

    /// `fit` with inputs and labels by name (`inputNames`, `outputNames`). Keras: `fit({"a": ..}, {"cls": ..})`.
    @discardableResult
    public func fit(_ x: [String: Tensor], _ y: [String: Tensor], epochs: Int = 1, batchSize: Int = 32, verbose: Int = 1,
                    validationSplit: Double = 0, shuffle: Bool = true, sampleWeight: Tensor? = nil,
                    callbacks: [Callback] = [], initialEpoch: Int = 0) throws -> History {
        try fit(try ordered(x, inputNames, "input"), try ordered(y, outputNames, "output"), epochs: epochs, batchSize: batchSize,
                verbose: verbose, validationSplit: validationSplit, shuffle: shuffle, sampleWeight: sampleWeight,
                callbacks: callbacks, initialEpoch: initialEpoch)
    }

    /// One step's batch: inputs, labels and per-sample weights — the global batch, or, when
    /// `global` is set, already this process's shard of it (`strategy.shard` of the global
    /// batch's rows, read by a data pipeline that reads only those), with the global batch's
    /// size and a token of it (its sample indices) that every process must agree on.
    package struct EpochBatch {
        package var x: [Tensor], y: [Tensor], weights: Tensor?
        package var global: (count: Int, token: Tensor)?
        package init(x: [Tensor], y: [Tensor], weights: Tensor?, global: (count: Int, token: Tensor)? = nil) {
            (self.x, self.y, self.weights, self.global) = (x, y, weights, global)
        }
    }
    /// One epoch's batches, nil when the epoch is over.
    package typealias EpochBatches = () throws -> EpochBatch?

    /// The epoch loop of `fit`, over tensors or a dataset: callbacks, progress bar, metrics,
    /// validation every `validationFreq` epochs. `makeEpoch` is called at the start of each
    /// epoch (after `onEpochBegin`), where the tensor path draws its shuffle.
    ///
    /// Under a distribution strategy (LaminaDistributed's DataParallel) every process runs this loop on
    /// its shard of each global batch; an error on any rank ends the whole job naming it.
    package func runEpochs(epochs: Int, initialEpoch: Int, steps: Int?, verbose: Int, callbacks: [Callback],
                           validate: (() throws -> [String: Double])?, validationFreq: Int,
                           optimizer: Optimizer, makeEpoch: (Int) throws -> EpochBatches) throws -> History {
        try Strategy.current.run {
            try epochLoop(epochs: epochs, initialEpoch: initialEpoch, steps: steps, verbose: verbose, callbacks: callbacks,
                          validate: validate, validationFreq: validationFreq, optimizer: optimizer, makeEpoch: makeEpoch)
        }
    }

    private func epochLoop(epochs: Int, initialEpoch: Int, steps: Int?, verbose: Int, callbacks: [Callback],
                           validate: (() throws -> [String: Double])?, validationFreq: Int,
                           optimizer: Optimizer, makeEpoch: (Int) throws -> EpochBatches) throws -> History {
        let strategy = Strategy.current
        let verbose = strategy.isChief ? verbose : 0
        try strategy.synchronize(self, optimizer: optimizer)
        let history = History()
        let all = [history] + callbacks
        resumeEpoch = nil
        for c in all { c.model = self; try c.onTrainBegin() }
        stopTraining = false
        var warnedNaN = false
        // A restored backup (BackupAndRestore) replaces initialEpoch, as Keras's _initial_epoch.
        let firstEpoch = resumeEpoch ?? initialEpoch
        resumeEpoch = nil
        for epoch in firstEpoch..<Swift.max(firstEpoch, epochs) {
            for c in all { try c.onEpochBegin(epoch) }
            if verbose > 0 && epochs > 1 { print("Epoch \(epoch + 1)/\(epochs)") }
            let nextBatch = try makeEpoch(epoch)
            metrics.forEach { $0.reset() }
            stepLosses.reset()
            // nil steps: a dataset that does not know its length runs to its end ("7/Unknown").
            var bar = Progbar(target: steps, verbose: verbose)
            var done = 0, lastLogs: [String: Double]?
            defer { stepShare = 1 }
            var step = 0
            while steps.map({ step < $0 }) ?? true {
                defer { step += 1 }
                guard let batch = try nextBatch() else { break }
                var (xb, yb, wb) = (batch.x, batch.y, batch.weights)
                let count: Int
                if let global = batch.global {   // read as this process's shard already
                    count = global.count
                    if step == 0 { try strategy.checkSameBatch(global.token) }
                } else {
                    count = xb[0].shape[0]
                    if step == 0 { try strategy.checkSameBatch(xb[0]) }
                    let rows = strategy.shard(count)
                    if rows.count < count { (xb, yb, wb) = (xb.rows(rows), yb.rows(rows), wb?.sliced(axis: 0, rows)) }
                }
                stepShare = Double(xb[0].shape[0]) / Double(count)
                stepLosses.last = nil
                // Every batch goes through trainStep (the compiled step or a subclass's own).
                let current = try trainStep(TrainingBatch(inputs: xb, labels: yb, sampleWeight: wb, share: stepShare, globalCount: count))
                let batchLoss = stepLosses.last ?? current["loss"] ?? .nan
                if !batchLoss.isFinite && !warnedNaN {
                    warnedNaN = true
                    Lamina.logger.warning("\(name): loss is \(batchLoss) at epoch \(epoch + 1), step \(step + 1); training continues (add TerminateOnNaN() to stop)")
                }
                done += 1
                lastLogs = current
                // The batch's own loss, and the metrics so far this epoch (Keras's batch logs).
                let batchLogs = current.merging(["loss": batchLoss]) { $1 }
                for c in all { try c.onBatchEnd(step, logs: batchLogs) }
                if stopTraining { break }
                if step < (steps ?? .max) - 1 || validate == nil || (epoch + 1) % validationFreq != 0 { bar.update(step + 1, values: current) }
            }
            // Keras: the epoch's logs are its last step's (running means over the epoch).
            var epochLogs = try lastLogs ?? logs(loss: 0, parts: [Double](repeating: 0, count: outputCount))
            // Keras's validation_freq: validate after every validationFreq-th epoch (1-based).
            if let validate, (epoch + 1) % validationFreq == 0 {
                for (k, v) in try validate() { epochLogs["val_" + k] = v }
                // The final step's line carries the validation values, as in Keras.
                if done == steps ?? done { bar.update(done, values: epochLogs, finalize: true) }
            } else if steps == nil {
                bar.update(done, values: lastLogs ?? [:], finalize: true)
            }
            self.epoch = epoch + 1
            for c in all { try c.onEpochEnd(epoch, logs: epochLogs) }
            if stopTraining { break }
        }
        for c in all { try c.onTrainEnd() }
        return history
    }

    /// Loss and metrics over `(x, y)`. Keras: `model.evaluate`.
    public func evaluate(_ x: Tensor, _ y: Tensor, batchSize: Int = 32, verbose: Int = 0) throws -> (loss: Double, metrics: [String: Double]) {
        try evaluate([x], [y], batchSize: batchSize, verbose: verbose)
    }

    /// `evaluate` for several inputs or outputs; `metrics` holds the outputs' losses
    /// (`<output>_loss`) and metrics (`<output>_<metric>`), as Keras's `return_dict=True`.
    public func evaluate(_ x: [Tensor], _ y: [Tensor], batchSize: Int = 32, verbose: Int = 0) throws -> (loss: Double, metrics: [String: Double]) {
        var logs = try Strategy.current.run { try evaluateLogs(x, y, batchSize: batchSize, verbose: verbose) }
        let loss = logs.removeValue(forKey: "loss") ?? .nan
        return (loss, logs)
    }

    /// `evaluate` with inputs and labels by name.
    public func evaluate(_ x: [String: Tensor], _ y: [String: Tensor], batchSize: Int = 32, verbose: Int = 0) throws -> (loss: Double, metrics: [String: Double]) {
        try evaluate(try ordered(x, inputNames, "input"), try ordered(y, outputNames, "output"), batchSize: batchSize, verbose: verbose)
    }

    /// The evaluation's logs (`loss`, the outputs' losses, the metrics) over `(x, y)` in batches.
    private func evaluateLogs(_ x: [Tensor], _ y: [Tensor], batchSize: Int, verbose: Int) throws -> [String: Double] {
        _ = try requireCompiled()
        guard batchSize > 0 else { throw LaminaError.value("evaluate: batchSize must be positive, got \(batchSize)") }
        let xs = try prepareInputs(x)
        let ys = try prepareLabels(y, for: xs)
        let n = xs[0].shape[0], steps = (n + batchSize - 1) / batchSize
        var step = 0
        return try evaluateBatches(steps: steps, verbose: verbose) {
            guard step < steps else { return nil }
            let r = (step * batchSize)..<min(n, (step + 1) * batchSize)
            step += 1
            return (xs.rows(r), ys.rows(r))
        }
    }

    /// Evaluation over global batches, from tensors or a dataset, each already checked and cast
    /// (`prepareInputs`, `prepareLabels`): the loss, the outputs' losses and the metrics as logs. Across processes each evaluates its shard of every batch
    /// and the sums of losses and metric states make the global values.
    package func evaluateBatches(steps: Int?, verbose: Int, next: () throws -> (x: [Tensor], y: [Tensor])?) throws -> [String: Double] {
        metrics.forEach { $0.reset() }
        stepLosses.reset()
        let strategy = Strategy.current
        var bar = Progbar(target: steps, verbose: strategy.isChief ? verbose : 0)
        var step = 0, lastLogs: [String: Double]?
        func current(_ sums: [Double]) throws -> [String: Double] {
            let seen = sums.last!
            return try logs(loss: sums[0] / seen, parts: sums[1..<(sums.count - 1)].map { $0 / seen })
        }
        while let (x, y) = try next() {
            step += 1
            let rows = strategy.shard(x[0].shape[0])
            guard !rows.isEmpty else { continue }
            let (xb, yb) = rows.count < x[0].shape[0] ? (x.rows(rows), y.rows(rows)) : (x, y)
            // Every batch goes through testStep (the compiled one or a subclass's own).
            let stepLogs = try testStep(TrainingBatch(inputs: xb, labels: yb, sampleWeight: nil, share: 1, globalCount: rows.count))
            lastLogs = stepLogs
            if verbose > 0 && strategy is SingleProcess { bar.update(step, values: stepLogs) }   // local values mid-way
        }
        if verbose > 0 && strategy is SingleProcess && steps == nil && step > 0 { bar.update(step, values: lastLogs ?? [:], finalize: true) }
        if !stepLosses.usedDefault, let lastLogs {
            // An overridden testStep: its last logs, as Keras.
            if verbose > 0 && !(strategy is SingleProcess) { bar.update(step, values: lastLogs, finalize: true) }
            return lastLogs
        }
        var sums = stepLosses.sums.isEmpty ? [Double](repeating: 0, count: 1 + outputCount) : stepLosses.sums
        sums.append(stepLosses.count)   // loss, outputs' losses, samples
        sums = try strategy.sum(sums)
        guard sums.last! > 0 else { throw LaminaError.value("evaluate: no batches to evaluate") }
        let out = try current(sums)
        if verbose > 0 && !(strategy is SingleProcess) { bar.update(step, values: out, finalize: true) }
        return out
    }

    /// Outputs for `x`, computed in batches without recording gradients. Keras: `model.predict`.
    /// `verbose: 1` shows Keras's progress bar over the batches (Keras's default "auto"; Lamina's
    /// default is silent, since serving and loops call predict often).
    public func predict(_ x: Tensor, batchSize: Int = 32, verbose: Int = 0) throws -> Tensor {
        try checkDefinition()
        guard outputCount == 1 else {
            throw LaminaError.shape("\(name) has \(outputCount) outputs \(outputNames); use predict([x]), which returns one tensor per output")
        }
        return try predict([x], batchSize: batchSize, verbose: verbose)[0]
    }

    /// Outputs of a model with several inputs or outputs: one tensor per output.
    public func predict(_ x: [Tensor], batchSize: Int = 32, verbose: Int = 0) throws -> [Tensor] {
        try Strategy.current.run { try predictTensors(x, batchSize: batchSize, verbose: verbose) }
    }

    private func predictTensors(_ x: [Tensor], batchSize: Int, verbose: Int) throws -> [Tensor] {
        guard batchSize > 0 else { throw LaminaError.value("predict: batchSize must be positive, got \(batchSize)") }
        let xs = try prepareInputs(x)
        let n = xs[0].shape[0]
        if n <= batchSize && verbose == 0 && Strategy.current is SingleProcess { return try inferenceStep(xs) }   // the batch-1 serving path
        var start = 0
        return try predictBatches(steps: (n + batchSize - 1) / batchSize, verbose: verbose) {
            guard start < n else { return nil }
            defer { start += batchSize }
            return xs.rows(start..<min(n, start + batchSize))
        }
    }

    /// Outputs by output name for inputs by input name.
    public func predict(_ x: [String: Tensor], batchSize: Int = 32, verbose: Int = 0) throws -> [String: Tensor] {
        let outputs = try predict(try ordered(x, inputNames, "input"), batchSize: batchSize, verbose: verbose)
        return Dictionary(zip(outputNames, outputs), uniquingKeysWith: { a, _ in a })
    }

    /// Prediction over global batches (already checked and cast by `prepareInputs`), from
    /// tensors or a dataset: one tensor per output, the
    /// batches' outputs in order. Across processes each predicts its shard of every batch and
    /// every process gets all outputs.
    package func predictBatches(steps: Int?, verbose: Int, _ next: () throws -> [Tensor]?) throws -> [Tensor] {
        let strategy = Strategy.current
        return try strategy.run {
            var outputs = [[Tensor]](repeating: [], count: outputCount)
            var bar = Progbar(target: steps, verbose: strategy.isChief ? verbose : 0)
            defer { if steps == nil && !outputs[0].isEmpty { bar.update(outputs[0].count, finalize: true) } }
            while let xs = try next() {
                let rows = strategy.shard(xs[0].shape[0])
                let local = rows.isEmpty ? nil : try inferenceStep(rows.count == xs[0].shape[0] ? xs : xs.rows(rows))
                let batch = try strategy.gather(local, of: self, inputs: xs)
                for (i, t) in batch.enumerated() { outputs[i].append(t) }
                bar.update(outputs[0].count)
            }
            guard !outputs[0].isEmpty else { throw LaminaError.value("predict: no batches to predict") }
            return outputs.map { $0.count == 1 ? $0[0] : Tensor.concatenated($0, axis: 0) }
        }
    }

    /// One optimizer step on one batch; returns that batch's loss and metrics (metrics are
    /// reset first, as Keras 2's `train_on_batch(reset_metrics=True)`).
    @discardableResult
    public func trainOnBatch(_ x: Tensor, _ y: Tensor, sampleWeight: Tensor? = nil,
                             classWeight: [Int: Double]? = nil) throws -> (loss: Double, metrics: [String: Double]) {
        try trainOnBatch([x], [y], sampleWeight: sampleWeight, classWeight: classWeight)
    }

    /// `trainOnBatch` for several inputs or outputs.
    @discardableResult
    public func trainOnBatch(_ x: [Tensor], _ y: [Tensor], sampleWeight: Tensor? = nil,
                             classWeight: [Int: Double]? = nil) throws -> (loss: Double, metrics: [String: Double]) {
        try Strategy.current.run { try trainTensorsOnBatch(x, y, sampleWeight: sampleWeight, classWeight: classWeight) }
    }

    private func trainTensorsOnBatch(_ x: [Tensor], _ y: [Tensor], sampleWeight: Tensor?,
                                     classWeight: [Int: Double]?) throws -> (loss: Double, metrics: [String: Double]) {
        let optimizer = try requireCompiled()
        let xs = try prepareInputs(x)
        let ys = try prepareLabels(y, for: xs)
        if classWeight != nil && outputCount > 1 { throw LaminaError.value("trainOnBatch: classWeight is for models with one output (use sampleWeight)") }
        let weights = try sampleWeights(sampleWeight, classWeight, labels: ys[0], count: xs[0].shape[0])
            .map { Tensor(shape: [$0.count], scalars: $0) }
        // Under DataParallel the batch is the global one, as in fit: each process trains on its
        // shard (the chief's weights are taken before the first step).
        let strategy = Strategy.current
        if synchronizedWith !== strategy { try strategy.synchronize(self, optimizer: optimizer) }
        let n = xs[0].shape[0], rows = strategy.shard(n)
        let (xl, yl) = rows.count < n ? (xs.rows(rows), ys.rows(rows)) : (xs, ys)
        metrics.forEach { $0.reset() }
        stepLosses.reset()
        stepShare = Double(rows.count) / Double(n)
        defer { stepShare = 1 }
        var logs = try trainStep(TrainingBatch(inputs: xl, labels: yl, sampleWeight: rows.count < n ? weights?.sliced(axis: 0, rows) : weights,
                                               share: stepShare, globalCount: n))
        let value = stepLosses.last ?? logs["loss"] ?? .nan
        logs["loss"] = nil
        return (value, logs)
    }

    /// Loss and metrics of one batch, without training. Keras: `test_on_batch`.
    public func testOnBatch(_ x: Tensor, _ y: Tensor) throws -> (loss: Double, metrics: [String: Double]) {
        try evaluate(x, y, batchSize: max(x.shape.first ?? 1, 1))
    }

    /// Outputs of one batch. Keras: `predict_on_batch`.
    public func predictOnBatch(_ x: Tensor) throws -> Tensor {
        guard outputCount == 1 else { throw LaminaError.shape("\(name) has \(outputCount) outputs; use predict([x])") }
        return try inferenceStep(try prepareInputs([x]))[0]
    }
}

extension Array where Element == Tensor {
    /// The same rows of every tensor (one per model input or output).
    package func rows(_ range: Range<Int>) -> [Tensor] { map { $0.sliced(axis: 0, range) } }
}

/// One-hot rows for integer class labels. Keras: `keras.utils.to_categorical`.
public func toCategorical(_ labels: Tensor, numClasses: Int? = nil) throws -> Tensor {
    let values = labels.scalarsAsDouble()
    let classes = numClasses ?? (Int(values.max() ?? -1) + 1)
    for v in values where v < 0 || v >= Double(classes) || v != v.rounded() {
        throw LaminaError.value("toCategorical: label \(v) is not a class index in 0..<\(classes)")
    }
    return SparseCategoricalCrossentropy.oneHot(labels, classes: classes, dtype: .float32)
        .reshaped(to: labels.shape + [classes])
}
