import Lamina
import Foundation

extension Sequential {
    /// Trains on a batched dataset (Keras: `model.fit(dataset, epochs=..., steps_per_epoch=...)`).
    ///
    /// Each epoch is one pass over the dataset (a fresh shuffle), or, with `stepsPerEpoch`,
    /// the next `stepsPerEpoch` batches of one pass that carries on across epochs (use
    /// `.repeated()` for an endless dataset; a pass that runs out ends training with a warning,
    /// as Keras does). `validationData` is evaluated after every `validationFreq`-th epoch
    /// (`validationSteps` batches of it, or all). With `Dataset.fromTensors(x, y).shuffle()
    /// .batch(n)` a seeded run is bit-identical to `fit(x, y, batchSize: n)`.
    @discardableResult
    public func fit(_ dataset: Dataset, epochs: Int = 1, stepsPerEpoch: Int? = nil, verbose: Int = 1,
                    validationData: Dataset? = nil, validationSteps: Int? = nil, validationFreq: Int = 1,
                    callbacks: [Callback] = [], initialEpoch: Int = 0) throws -> History {
        let (optimizer, loss) = try requireCompiled()
        guard validationFreq > 0 else { throw LaminaError.value("fit: validationFreq must be positive, got \(validationFreq)") }
        try dataset.validate()
        guard dataset.isBatched else { throw LaminaError.value("fit: the dataset yields single samples; add .batch(n)") }
        if let stepsPerEpoch, stepsPerEpoch <= 0 { throw LaminaError.value("fit: stepsPerEpoch must be positive, got \(stepsPerEpoch)") }
        guard let steps = stepsPerEpoch ?? dataset.cardinality, !(stepsPerEpoch == nil && dataset.isInfinite) else {
            throw LaminaError.value("fit: the dataset repeats forever; give stepsPerEpoch")
        }
        if let validationData {
            try validationData.validate()
            guard validationData.isBatched else { throw LaminaError.value("fit: validationData yields single samples; add .batch(n)") }
            guard validationSteps != nil || !validationData.isInfinite else {
                throw LaminaError.value("fit: validationData repeats forever; give validationSteps")
            }
        }
        let validate = validationData.map { data in { () throws -> (loss: Double, metrics: [String: Double]) in
            try self.evaluate(data, steps: validationSteps)
        } }
        var carried: DatasetIterator?
        var exhausted = false
        return try runEpochs(epochs: epochs, initialEpoch: initialEpoch, steps: steps, verbose: verbose, callbacks: callbacks,
                             validate: validate, validationFreq: validationFreq, optimizer: optimizer, loss: loss) { epoch in
            let iterator: DatasetIterator
            if stepsPerEpoch != nil {
                if carried == nil { carried = try dataset.makeIterator() }
                iterator = carried!
            } else {
                iterator = try dataset.makeIterator()
            }
            var step = 0
            return {
                guard step < steps, !exhausted else { return nil }
                guard let (x, y) = try iterator.next() else {
                    if stepsPerEpoch != nil {
                        exhausted = true
                        self.stopTraining = true
                        let message = "\(self.name): the dataset ran out after \(step) of \(steps) steps in epoch \(epoch + 1); "
                            + "training stops (use .repeated() or fewer stepsPerEpoch)"
                        Lamina.logger.warning("\(message)")
                    }
                    return nil
                }
                step += 1
                guard let y else { throw LaminaError.value("fit: the dataset has no labels") }
                let xs = try self.prepareInputs(x)
                return (xs, try self.prepareLabels(y, for: xs, loss: loss), nil)
            }
        }
    }

    /// Loss and metrics over a batched dataset (all of one pass, or `steps` batches). Keras:
    /// `model.evaluate(dataset, steps=...)`.
    public func evaluate(_ dataset: Dataset, steps: Int? = nil, verbose: Int = 0) throws -> (loss: Double, metrics: [String: Double]) {
        let (_, loss) = try requireCompiled()
        try dataset.validate()
        guard dataset.isBatched else { throw LaminaError.value("evaluate: the dataset yields single samples; add .batch(n)") }
        guard steps != nil || !dataset.isInfinite else { throw LaminaError.value("evaluate: the dataset repeats forever; give steps") }
        let iterator = try dataset.makeIterator()
        defer { iterator.cancel() }
        compiledMetrics.forEach { $0.reset() }
        var lossSum = 0.0, seen = 0, step = 0
        let target = steps ?? dataset.cardinality ?? 0
        // Under DataParallel every rank reads the same batches and evaluates its shard of each.
        let group = ProcessGroups.current
        var bar = ProgressBar(target: target, verbose: ProcessGroups.isChief ? verbose : 0)
        while steps.map({ step < $0 }) ?? true, let (x, y) = try iterator.next() {
            guard let y else { throw LaminaError.value("evaluate: the dataset has no labels") }
            step += 1
            let rows = group.map { ProcessGroups.shard(x.shape[0], $0) } ?? 0..<x.shape[0]
            guard !rows.isEmpty else { continue }
            let (xr, yr) = group == nil ? (x, y) : (x.sliced(axis: 0, rows), y.sliced(axis: 0, rows))
            let xb = try prepareInputs(xr), yb = try prepareLabels(yr, for: xr, loss: loss)
            let prediction = try inferenceStep(xb)
            lossSum += withoutGradients { loss(yb, prediction) }.scalarsAsDouble()[0] * Double(xb.shape[0])
            seen += xb.shape[0]
            for m in compiledMetrics { m.update(yb, prediction) }
            if verbose > 0 && group == nil { bar.update(step, logs: try logs(loss: lossSum / Double(seen))) }
        }
        if let group {
            var sums = [lossSum, Double(seen)]
            try group.allreduceSum(&sums)
            guard sums[1] > 0 else { throw LaminaError.value("evaluate: the dataset gave no batches") }
            let values = try logs(loss: sums[0] / sums[1])
            if verbose > 0 { bar.update(step, logs: values) }
            return (values["loss"]!, values.filter { $0.key != "loss" })
        }
        guard seen > 0 else { throw LaminaError.value("evaluate: the dataset gave no batches") }
        return (lossSum / Double(seen), Dictionary(uniqueKeysWithValues: compiledMetrics.map { ($0.name, $0.result()) }))
    }

    /// Outputs for a batched dataset's inputs (labels, if any, are ignored). Keras:
    /// `model.predict(dataset, steps=...)`.
    public func predict(_ dataset: Dataset, steps: Int? = nil) throws -> Tensor {
        try dataset.validate()
        guard dataset.isBatched else { throw LaminaError.value("predict: the dataset yields single samples; add .batch(n)") }
        guard steps != nil || !dataset.isInfinite else { throw LaminaError.value("predict: the dataset repeats forever; give steps") }
        let iterator = try dataset.makeIterator()
        defer { iterator.cancel() }
        var outputs: [Tensor] = []
        let group = ProcessGroups.current
        while steps.map({ outputs.count < $0 }) ?? true, let (x, _) = try iterator.next() {
            let xs = try prepareInputs(x)
            if let group {   // under DataParallel each rank predicts its shard of every batch
                let rows = ProcessGroups.shard(xs.shape[0], group)
                let local = rows.isEmpty ? nil : try inferenceStep(xs.sliced(axis: 0, rows))
                outputs.append(try ProcessGroups.run { try gatherShards(local, of: xs, group) })
            } else {
                outputs.append(try inferenceStep(xs))
            }
        }
        guard !outputs.isEmpty else { throw LaminaError.value("predict: the dataset gave no batches") }
        return outputs.count == 1 ? outputs[0] : Tensor.concatenated(outputs, axis: 0)
    }
}
