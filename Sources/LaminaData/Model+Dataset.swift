import Lamina
import Foundation

extension Model {
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
        try Strategy.current.run {
            try fitDataset(dataset, epochs: epochs, stepsPerEpoch: stepsPerEpoch, verbose: verbose, validationData: validationData,
                           validationSteps: validationSteps, validationFreq: validationFreq, callbacks: callbacks, initialEpoch: initialEpoch)
        }
    }

    private func fitDataset(_ dataset: Dataset, epochs: Int, stepsPerEpoch: Int?, verbose: Int, validationData: Dataset?,
                            validationSteps: Int?, validationFreq: Int, callbacks: [Callback], initialEpoch: Int) throws -> History {
        let optimizer = try requireCompiled()
        guard validationFreq > 0 else { throw LaminaError.value("fit: validationFreq must be positive, got \(validationFreq)") }
        try dataset.validate()
        guard dataset.isBatched else { throw LaminaError.value("fit: the dataset yields single samples; add .batch(n)") }
        if let stepsPerEpoch, stepsPerEpoch <= 0 { throw LaminaError.value("fit: stepsPerEpoch must be positive, got \(stepsPerEpoch)") }
        guard stepsPerEpoch != nil || !dataset.isInfinite else { throw LaminaError.value("fit: the dataset repeats forever; give stepsPerEpoch") }
        let steps = stepsPerEpoch ?? dataset.cardinality   // nil (a filter's unknown length): each pass to its end
        if let validationData {
            try validationData.validate()
            guard validationData.isBatched else { throw LaminaError.value("fit: validationData yields single samples; add .batch(n)") }
            guard validationSteps != nil || !validationData.isInfinite else {
                throw LaminaError.value("fit: validationData repeats forever; give validationSteps")
            }
        }
        let validate = validationData.map { data in { () throws -> [String: Double] in
            try self.evaluateLogs(data, steps: validationSteps, verbose: 0)
        } }
        // Under DataParallel, a pipeline that batches straight from a random-access source reads
        // only this process's shard of each global batch (the same global batches as one process).
        let strategy = Strategy.current
        let rankShard: RankShard? = strategy is SingleProcess || !dataset.readsByRankShard ? nil : RankShard { [strategy] n in strategy.shard(n) }
        var carried: DatasetIterator?
        var exhausted = false
        return try runEpochs(epochs: epochs, initialEpoch: initialEpoch, steps: steps, verbose: verbose, callbacks: callbacks,
                             validate: validate, validationFreq: validationFreq, optimizer: optimizer) { epoch in
            let iterator: DatasetIterator
            if stepsPerEpoch != nil {
                if carried == nil { carried = try dataset.makeIterator(rankShard: rankShard) }
                iterator = carried!
            } else {
                iterator = try dataset.makeIterator(rankShard: rankShard)
            }
            var step = 0
            return {
                guard steps.map({ step < $0 }) ?? true, !exhausted else { return nil }
                guard let (x, y) = try iterator.next() else {
                    if stepsPerEpoch != nil {
                        exhausted = true
                        self.stopTraining = true
                        let message = "\(self.name): the dataset ran out after \(step) of \(stepsPerEpoch ?? step) steps in epoch \(epoch + 1); "
                            + "training stops (use .repeated() or fewer stepsPerEpoch)"
                        Lamina.logger.warning("\(message)")
                    }
                    return nil
                }
                step += 1
                guard let y else { throw LaminaError.value("fit: the dataset has no labels") }
                let global = rankShard == nil ? nil : try iterator.globalBatch()
                let xs = try self.prepareInputs([x])
                return EpochBatch(x: xs, y: try self.prepareLabels([y], for: xs), weights: nil, global: global)
            }
        }
    }

    /// Loss and metrics over a batched dataset (all of one pass, or `steps` batches). Keras:
    /// `model.evaluate(dataset, steps=...)`.
    public func evaluate(_ dataset: Dataset, steps: Int? = nil, verbose: Int = 0) throws -> (loss: Double, metrics: [String: Double]) {
        var logs = try Strategy.current.run { try evaluateLogs(dataset, steps: steps, verbose: verbose) }
        let loss = logs.removeValue(forKey: "loss") ?? .nan
        return (loss, logs)
    }

    private func evaluateLogs(_ dataset: Dataset, steps: Int?, verbose: Int) throws -> [String: Double] {
        _ = try requireCompiled()
        try dataset.validate()
        guard dataset.isBatched else { throw LaminaError.value("evaluate: the dataset yields single samples; add .batch(n)") }
        guard steps != nil || !dataset.isInfinite else { throw LaminaError.value("evaluate: the dataset repeats forever; give steps") }
        let iterator = try dataset.makeIterator()
        defer { iterator.cancel() }
        var step = 0
        return try evaluateBatches(steps: steps ?? dataset.cardinality, verbose: verbose) {
            guard steps.map({ step < $0 }) ?? true, let (x, y) = try iterator.next() else { return nil }
            guard let y else { throw LaminaError.value("evaluate: the dataset has no labels") }
            step += 1
            let xs = try self.prepareInputs([x])
            return (xs, try self.prepareLabels([y], for: xs))
        }
    }

    /// Outputs for a batched dataset's inputs (labels, if any, are ignored). Keras:
    /// `model.predict(dataset, steps=..., verbose=...)`.
    public func predict(_ dataset: Dataset, steps: Int? = nil, verbose: Int = 0) throws -> Tensor {
        try dataset.validate()
        guard dataset.isBatched else { throw LaminaError.value("predict: the dataset yields single samples; add .batch(n)") }
        guard steps != nil || !dataset.isInfinite else { throw LaminaError.value("predict: the dataset repeats forever; give steps") }
        guard outputCount == 1 else { throw LaminaError.shape("\(name) has \(outputCount) outputs; datasets of one input and output only") }
        let iterator = try dataset.makeIterator()
        defer { iterator.cancel() }
        var step = 0
        return try predictBatches(steps: steps ?? dataset.cardinality, verbose: verbose) {
            guard steps.map({ step < $0 }) ?? true, let (x, _) = try iterator.next() else { return nil }
            step += 1
            return try self.prepareInputs([x])
        }[0]
    }
}
