import Foundation

extension Sequential {
    /// Configures training. Keras: `model.compile(optimizer, loss, metrics)`.
    /// Layers with `trainable = false` now stay frozen for this model, whatever their flag
    /// later says (Keras 2 semantics, which the classic GAN recipe relies on).
    public func compile(optimizer: Optimizer = .rmsprop, loss: Loss, metrics: [Metric] = []) {
        self.optimizer = optimizer
        self.loss = loss
        compiledMetrics = metrics
        var frozen = Set<ObjectIdentifier>()
        func collect(_ layer: Layer, _ parentFrozen: Bool) {
            let isFrozen = parentFrozen || !layer.trainable
            if isFrozen { frozen.insert(ObjectIdentifier(layer)) }
            for sub in layer.sublayers { collect(sub, isFrozen) }
        }
        for layer in layers { collect(layer, !trainable) }
        frozenAtCompile = frozen
    }

    /// Keras strings: `compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])`.
    public func compile(optimizer: String, loss: String, metrics: [String] = []) throws {
        compile(optimizer: try Optimizer.named(optimizer), loss: try Loss.named(loss), metrics: try metrics.map(Metric.named))
    }

    /// The variables this compiled model trains: trainable weights of layers not frozen at compile.
    var variablesToTrain: [Variable] {
        var out: [Variable] = []
        func collect(_ layer: Layer) {
            guard !frozenAtCompile.contains(ObjectIdentifier(layer)) else { return }
            out += layer.ownWeights.filter(\.trainable)
            layer.sublayers.forEach(collect)
        }
        layers.forEach(collect)
        return out
    }

    // MARK: - Validation

    package func requireCompiled() throws -> (Optimizer, Loss) {
        guard let optimizer, let loss else { throw LaminaError.configuration("\(name): call compile(optimizer:loss:metrics:) before training") }
        return (optimizer, loss)
    }

    /// Checks the input against the model (building it if needed) and casts it to the model's dtype.
    package func prepareInputs(_ x: Tensor) throws -> Tensor {
        try checkAdded()
        guard x.rank >= 1, x.shape[0] > 0 else { throw LaminaError.shape("\(name): expected a batch of inputs, got shape \(x.shape)") }
        guard !layers.isEmpty else { throw LaminaError.configuration("\(name) has no layers") }
        let sample = Array(x.shape.dropFirst())
        try checkInputShape(sample)
        try buildIfNeeded(sample, dtype: x.dtype.isFloatingPoint ? x.dtype : .float32)
        return x.dtype == dtype ? x : x.cast(to: dtype)
    }

    package func prepareLabels(_ y: Tensor, for x: Tensor, loss: Loss) throws -> Tensor {
        guard y.rank >= 1, y.shape[0] == x.shape[0] else {
            throw LaminaError.shape("\(name): \(y.rank >= 1 ? y.shape[0] : 0) labels for \(x.shape[0]) inputs (labels \(y.shape), inputs \(x.shape))")
        }
        let outShape = try computeOutputShape(Array(x.shape.dropFirst()))
        let probe = Tensor.zeros([1] + outShape, dtype: dtype)
        try loss.validate(y.sliced(axis: 0, 0..<min(1, y.shape[0])).reshaped(to: [1] + y.shape.dropFirst()).cast(to: y.dtype),
                          probe)
        if loss is SparseCategoricalCrossentropy { try loss.validate(y, Tensor.zeros([y.shape[0]] + outShape, dtype: dtype)) }
        return y
    }

    // MARK: - Steps

    /// One optimizer step on a batch; returns the batch loss.
    ///
    /// Under a process group, `x` is this rank's shard, `share` its fraction of the global
    /// batch; the returned loss is the global batch's, and every rank applies the same
    /// averaged gradients. A rank with no rows in this batch still takes part in the exchange.
    func trainStep(_ x: Tensor, _ y: Tensor, optimizer: Optimizer, loss: Loss, weights: Tensor? = nil,
                   group: ProcessGroup? = nil, share: Double = 1) throws -> (Double, Tensor) {
        let vars = variablesToTrain
        if let group, x.shape[0] == 0 {
            let zeros = vars.map { Tensor.zeros($0.shape, dtype: $0.value.dtype) }
            let (grads, value) = try synchronizeStep(group, gradients: zeros, loss: 0, share: 0)
            if !vars.isEmpty { optimizer.apply(grads, to: vars) }
            return (value, x)
        }
        for v in vars { v.value.requiresGrad = true }
        defer { for v in vars { v.value.requiresGrad = false } }
        let prediction = try FrozenLayers.$current.withValue(frozenAtCompile) { try self(x, training: true) }
        // Sample weights scale each sample's loss, then the mean is over the batch (Keras's
        // sum_over_batch_size); the loss reported and minimized includes the weights'
        // regularization penalties, as in Keras.
        let dataLoss = weights.map { (loss.perSample(y, prediction) * $0.cast(to: prediction.dtype)).mean() } ?? loss(y, prediction)
        let l = losses.reduce(dataLoss) { $0 + $1 }
        var value = l.scalarsAsDouble()[0]
        if !vars.isEmpty || group != nil {
            var grads = vars.isEmpty ? [] : l.gradients(wrt: vars.map(\.value))
            if let group { (grads, value) = try synchronizeStep(group, gradients: grads, loss: value, share: share) }
            if !vars.isEmpty { optimizer.apply(grads, to: vars) }
        }
        return (value, prediction.detached())
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
    package func inferenceStep(_ x: Tensor) throws -> Tensor {
        try withoutGradients { try self(x, training: false) }
    }

    /// Loss and metric values for callbacks and the progress bar; under a process group the
    /// metrics are summed over every rank's data first.
    package func logs(loss: Double, prefix: String = "") throws -> [String: Double] {
        var out = [prefix + "loss": loss]
        if let group = ProcessGroups.current {
            for (name, value) in try globalMetricValues(group) { out[prefix + name] = value }
        } else {
            for m in compiledMetrics { out[prefix + m.name] = m.result() }
        }
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
        let (optimizer, loss) = try requireCompiled()
        guard batchSize > 0 else { throw LaminaError.value("fit: batchSize must be positive, got \(batchSize)") }
        guard validationFreq > 0 else { throw LaminaError.value("fit: validationFreq must be positive, got \(validationFreq)") }
        guard validationSplit >= 0 && validationSplit < 1 else { throw LaminaError.value("fit: validationSplit must be in [0, 1), got \(validationSplit)") }
        var xTrain = try prepareInputs(x)
        var yTrain = try prepareLabels(y, for: x, loss: loss)
        var weights = try sampleWeights(sampleWeight, classWeight, labels: y, count: x.shape[0])
        var validation = validationData
        if validation == nil && validationSplit > 0 {
            let split = Int((Double(x.shape[0]) * (1 - validationSplit)).rounded(.down))
            guard split > 0 && split < x.shape[0] else {
                throw LaminaError.value("fit: validationSplit \(validationSplit) of \(x.shape[0]) samples leaves an empty part")
            }
            validation = (xTrain.sliced(axis: 0, split..<x.shape[0]), yTrain.sliced(axis: 0, split..<x.shape[0]))
            xTrain = xTrain.sliced(axis: 0, 0..<split)
            yTrain = yTrain.sliced(axis: 0, 0..<split)
            weights = weights.map { Array($0[0..<split]) }   // validation is not weighted (Keras)
        }
        if let (vx, vy) = validation { _ = try prepareLabels(vy, for: try prepareInputs(vx), loss: loss) }

        let n = xTrain.shape[0], steps = (n + batchSize - 1) / batchSize
        let (xs, ys, ws) = (xTrain, yTrain, weights)
        let validate = validation.map { (vx, vy) in { () throws -> (loss: Double, metrics: [String: Double]) in
            try self.evaluate(vx, vy, batchSize: batchSize)
        } }
        return try runEpochs(epochs: epochs, initialEpoch: initialEpoch, steps: steps, verbose: verbose, callbacks: callbacks,
                             validate: validate, validationFreq: validationFreq, optimizer: optimizer, loss: loss) { _ in
            var order = Array(0..<n)
            if shuffle {
                GlobalRandom.with { order.shuffle(using: &$0) }
                if let group = ProcessGroups.current { order = try group.broadcast(order) }
            }
            var step = 0
            return {
                guard step < steps else { return nil }
                let idx = Array(order[(step * batchSize)..<min(n, (step + 1) * batchSize)])
                step += 1
                let wb = ws.map { w in Tensor(shape: [idx.count], scalars: idx.map { w[$0] }) }
                return (xs.gather(rows: idx), ys.gather(rows: idx), wb)
            }
        }
    }

    /// One epoch's batches: inputs, labels and per-sample weights, nil when the epoch is over.
    package typealias EpochBatches = () throws -> (x: Tensor, y: Tensor, weights: Tensor?)?

    /// The epoch loop of `fit`, over tensors or a dataset: callbacks, progress bar, metrics,
    /// validation every `validationFreq` epochs. `makeEpoch` is called at the start of each
    /// epoch (after `onEpochBegin`), where the tensor path draws its shuffle.
    ///
    /// Under a process group (LaminaDistributed's DataParallel) every rank runs this loop on
    /// its shard of each global batch; an error on any rank ends the whole job naming it.
    package func runEpochs(epochs: Int, initialEpoch: Int, steps: Int, verbose: Int, callbacks: [Callback],
                   validate: (() throws -> (loss: Double, metrics: [String: Double]))?, validationFreq: Int,
                   optimizer: Optimizer, loss: Loss, makeEpoch: (Int) throws -> EpochBatches) throws -> History {
        try ProcessGroups.run {
            try epochLoop(epochs: epochs, initialEpoch: initialEpoch, steps: steps, verbose: verbose, callbacks: callbacks,
                          validate: validate, validationFreq: validationFreq, optimizer: optimizer, loss: loss, makeEpoch: makeEpoch)
        }
    }

    private func epochLoop(epochs: Int, initialEpoch: Int, steps: Int, verbose: Int, callbacks: [Callback],
                           validate: (() throws -> (loss: Double, metrics: [String: Double]))?, validationFreq: Int,
                           optimizer: Optimizer, loss: Loss, makeEpoch: (Int) throws -> EpochBatches) throws -> History {
        let group = ProcessGroups.current
        let verbose = ProcessGroups.isChief ? verbose : 0
        if let group { try synchronizeFromRankZero(group, optimizer: optimizer) }
        let history = History()
        let all = [history] + callbacks
        for c in all { c.model = self; try c.onTrainBegin() }
        stopTraining = false
        var warnedNaN = false
        for epoch in initialEpoch..<epochs {
            for c in all { try c.onEpochBegin(epoch) }
            if verbose > 0 && epochs > 1 { print("Epoch \(epoch + 1)/\(epochs)") }
            let nextBatch = try makeEpoch(epoch)
            compiledMetrics.forEach { $0.reset() }
            var bar = ProgressBar(target: steps, verbose: verbose)
            var lossSum = 0.0, seen = 0, done = 0
            for step in 0..<steps {
                guard let (globalX, globalY, globalW) = try nextBatch() else { break }
                var (xb, yb, wb) = (globalX, globalY, globalW)
                var share = 1.0
                if let group {
                    if step == 0 { try checkSameBatches(globalX, group) }
                    let rows = ProcessGroups.shard(globalX.shape[0], group)
                    (xb, yb, wb) = (globalX.sliced(axis: 0, rows), globalY.sliced(axis: 0, rows), globalW?.sliced(axis: 0, rows))
                    share = Double(rows.count) / Double(globalX.shape[0])
                }
                let (batchLoss, prediction) = try trainStep(xb, yb, optimizer: optimizer, loss: loss, weights: wb,
                                                            group: group, share: share)
                if !batchLoss.isFinite && !warnedNaN {
                    warnedNaN = true
                    Lamina.logger.warning("\(name): loss is \(batchLoss) at epoch \(epoch + 1), step \(step + 1); training continues (add TerminateOnNaN() to stop)")
                }
                let count = globalX.shape[0]
                lossSum += batchLoss * Double(count)
                seen += count
                done += 1
                if xb.shape[0] > 0 { for m in compiledMetrics { m.update(yb, prediction) } }
                let current = try logs(loss: lossSum / Double(seen))
                for c in all { try c.onBatchEnd(step, logs: ["loss": batchLoss]) }
                if stopTraining { break }
                if step < steps - 1 || validate == nil || (epoch + 1) % validationFreq != 0 { bar.update(step + 1, logs: current) }
            }
            var epochLogs = try logs(loss: lossSum / Double(max(seen, 1)))
            // Keras's validation_freq: validate after every validationFreq-th epoch (1-based).
            if let validate, (epoch + 1) % validationFreq == 0 {
                let result = try validate()
                epochLogs["val_loss"] = Double(result.loss)
                for (k, v) in result.metrics { epochLogs["val_" + k] = Double(v) }
                // The final step's line carries the validation values, as in Keras.
                if done == steps { bar.update(steps, logs: epochLogs) }
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
        try ProcessGroups.run { try evaluateTensors(x, y, batchSize: batchSize, verbose: verbose) }
    }

    private func evaluateTensors(_ x: Tensor, _ y: Tensor, batchSize: Int, verbose: Int) throws -> (loss: Double, metrics: [String: Double]) {
        let (_, loss) = try requireCompiled()
        let xs = try prepareInputs(x)
        let ys = try prepareLabels(y, for: x, loss: loss)
        compiledMetrics.forEach { $0.reset() }
        var lossSum = 0.0
        // Under a process group each rank evaluates its own contiguous rows; the sums of
        // losses and metric states then make the global values.
        let group = ProcessGroups.current
        let rows = group.map { ProcessGroups.shard(xs.shape[0], $0) } ?? 0..<xs.shape[0]
        let n = rows.count, steps = (n + batchSize - 1) / batchSize
        var bar = ProgressBar(target: steps, verbose: ProcessGroups.isChief ? verbose : 0)
        for step in 0..<steps {
            let r = (rows.lowerBound + step * batchSize)..<min(rows.upperBound, rows.lowerBound + (step + 1) * batchSize)
            let xb = xs.sliced(axis: 0, r), yb = ys.sliced(axis: 0, r)
            let prediction = try inferenceStep(xb)
            lossSum += withoutGradients { loss(yb, prediction) }.scalarsAsDouble()[0] * Double(r.count)
            for m in compiledMetrics { m.update(yb, prediction) }
            if verbose > 0 && group == nil { bar.update(step + 1, logs: try logs(loss: lossSum / Double(r.upperBound))) }
        }
        if let group {
            var sums = [lossSum]
            try group.allreduceSum(&sums)
            let metrics = try globalMetricValues(group)
            if verbose > 0 { bar.update(steps, logs: metrics.merging(["loss": sums[0] / Double(xs.shape[0])]) { $1 }) }
            return (sums[0] / Double(xs.shape[0]), metrics)
        }
        return (lossSum / Double(n), Dictionary(uniqueKeysWithValues: compiledMetrics.map { ($0.name, $0.result()) }))
    }

    /// Outputs for `x`, computed in batches without recording gradients. Keras: `model.predict`.
    public func predict(_ x: Tensor, batchSize: Int = 32) throws -> Tensor {
        let xs = try prepareInputs(x)
        if let group = ProcessGroups.current { return try ProcessGroups.run { try predictSharded(xs, batchSize: batchSize, group) } }
        return try predictLocally(xs, batchSize: batchSize)
    }

    /// Each rank predicts its contiguous rows; every rank gets all outputs, in order.
    private func predictSharded(_ xs: Tensor, batchSize: Int, _ group: ProcessGroup) throws -> Tensor {
        let mine = ProcessGroups.shard(xs.shape[0], group)
        let local = mine.isEmpty ? nil : try predictLocally(xs.sliced(axis: 0, mine), batchSize: batchSize)
        return try gatherShards(local, of: xs, group)
    }

    /// Every rank's outputs for its shard of the rows of `inputs` (nil for an empty shard),
    /// put back together in order on every rank.
    package func gatherShards(_ local: Tensor?, of inputs: Tensor, _ group: ProcessGroup) throws -> Tensor {
        let n = inputs.shape[0]
        let outShape = try computeOutputShape(Array(inputs.shape.dropFirst()))
        var parts = [Tensor]()
        for r in 0..<group.size {
            let rows = (r * n / group.size)..<((r + 1) * n / group.size)
            guard !rows.isEmpty else { continue }
            let part = r == group.rank ? local! : Tensor.zeros([rows.count] + outShape, dtype: dtype)
            parts += try group.broadcast([part], root: r)
        }
        return Tensor.concatenated(parts, axis: 0)
    }

    private func predictLocally(_ xs: Tensor, batchSize: Int) throws -> Tensor {
        let n = xs.shape[0]
        if n <= batchSize { return try inferenceStep(xs) }
        var outputs: [Tensor] = []
        for start in stride(from: 0, to: n, by: batchSize) {
            outputs.append(try inferenceStep(xs.sliced(axis: 0, start..<min(n, start + batchSize))))
        }
        return Tensor.concatenated(outputs, axis: 0)
    }

    /// One optimizer step on one batch; returns that batch's loss and metrics (metrics are
    /// reset first, as Keras 2's `train_on_batch(reset_metrics=True)`).
    @discardableResult
    public func trainOnBatch(_ x: Tensor, _ y: Tensor, sampleWeight: Tensor? = nil,
                             classWeight: [Int: Double]? = nil) throws -> (loss: Double, metrics: [String: Double]) {
        let (optimizer, loss) = try requireCompiled()
        let xs = try prepareInputs(x)
        let ys = try prepareLabels(y, for: x, loss: loss)
        let weights = try sampleWeights(sampleWeight, classWeight, labels: y, count: x.shape[0])
            .map { Tensor(shape: [$0.count], scalars: $0) }
        guard let group = ProcessGroups.current else {
            let (value, prediction) = try trainStep(xs, ys, optimizer: optimizer, loss: loss, weights: weights)
            compiledMetrics.forEach { $0.reset(); $0.update(ys, prediction) }
            return (Double(value), Dictionary(uniqueKeysWithValues: compiledMetrics.map { ($0.name, $0.result()) }))
        }
        // Under DataParallel the batch is the global one, as in fit: each rank trains on its
        // shard (rank 0's weights are broadcast before the first step).
        return try ProcessGroups.run {
            if synchronizedWith !== group { try synchronizeFromRankZero(group, optimizer: optimizer) }
            let rows = ProcessGroups.shard(xs.shape[0], group)
            let (xl, yl) = (xs.sliced(axis: 0, rows), ys.sliced(axis: 0, rows))
            let (value, prediction) = try trainStep(xl, yl, optimizer: optimizer, loss: loss, weights: weights?.sliced(axis: 0, rows),
                                                    group: group, share: Double(rows.count) / Double(xs.shape[0]))
            compiledMetrics.forEach { $0.reset(); if !rows.isEmpty { $0.update(yl, prediction) } }
            return (value, try globalMetricValues(group))
        }
    }

    /// Loss and metrics of one batch, without training. Keras: `test_on_batch`.
    public func testOnBatch(_ x: Tensor, _ y: Tensor) throws -> (loss: Double, metrics: [String: Double]) {
        try evaluate(x, y, batchSize: max(x.shape.first ?? 1, 1))
    }

    /// Outputs of one batch. Keras: `predict_on_batch`.
    public func predictOnBatch(_ x: Tensor) throws -> Tensor { try inferenceStep(try prepareInputs(x)) }
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
