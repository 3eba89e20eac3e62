import Foundation

/// One batch as `fit`, `evaluate` and `trainOnBatch` give it to `Model.trainStep` and
/// `Model.testStep` (Keras's `data`: `x, y, sample_weight = data`).
public struct TrainingBatch {
    /// One tensor per model input and per output, this process's rows of the global batch.
    public let inputs: [Tensor]
    /// One tensor of labels per model output.
    public let labels: [Tensor]
    /// Per-sample loss weights (`sampleWeight`, `classWeight`), if any.
    public let sampleWeight: Tensor?
    /// This process's fraction of the global batch (1 on one process).
    package let share: Double
    /// The rows of the global batch.
    package let globalCount: Int

    /// The first (most often the only) input and labels.
    public var x: Tensor { inputs[0] }
    /// The labels of the first output.
    public var y: Tensor { labels[0] }

    /// A batch of several inputs and outputs (as one process sees it).
    public init(inputs: [Tensor], labels: [Tensor], sampleWeight: Tensor? = nil) {
        self.init(inputs: inputs, labels: labels, sampleWeight: sampleWeight, share: 1, globalCount: inputs.first?.shape.first ?? 0)
    }
    /// A batch of one input and one output.
    public init(x: Tensor, y: Tensor, sampleWeight: Tensor? = nil) { self.init(inputs: [x], labels: [y], sampleWeight: sampleWeight) }

    package init(inputs: [Tensor], labels: [Tensor], sampleWeight: Tensor?, share: Double, globalCount: Int) {
        (self.inputs, self.labels, self.sampleWeight, self.share, self.globalCount) = (inputs, labels, sampleWeight, share, globalCount)
    }
}

/// The running loss of the steps since the last reset, weighted by batch size (Keras: the
/// model's `_loss_tracker`, a `Mean`): total and outputs' losses.
package struct LossTracker {
    var sums: [Double] = []
    var count = 0.0
    /// The loss of the latest step (callbacks' `onBatchEnd` get it).
    var last: Double?
    /// Whether a default step added to it (fit, evaluate then report the tracker's means).
    var usedDefault = false

    mutating func reset() { self = LossTracker() }

    mutating func add(_ loss: Double, parts: [Double], count n: Double) {
        let values = [loss] + parts
        if sums.count != values.count { sums = [Double](repeating: 0, count: values.count) }
        for i in values.indices { sums[i] += values[i] * n }
        count += n
        last = loss
    }

    var mean: Double { count > 0 ? sums[0] / count : 0 }
    var partMeans: [Double] { count > 0 ? sums.dropFirst().map { $0 / count } : [] }
}

/// A metric that averages the values it is given, optionally weighted. Keras:
/// `keras.metrics.Mean` (a custom `trainStep`'s loss tracker).
public final class Mean: Metric {
    public override init(name: String = "mean") { super.init(name: name) }

    /// Adds a value with a weight (a batch's mean loss, weighted by the batch size).
    public func updateState(_ value: Double, sampleWeight: Double = 1) {
        total += value * sampleWeight
        count += sampleWeight
    }

    /// Adds every element of `values`.
    public func updateState(_ values: Tensor) {
        let v = values.scalarsAsDouble()
        total += v.reduce(0, +)
        count += Double(v.count)
    }

    /// As a compiled metric it averages the predictions.
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] { yPred.scalarsAsDouble() }
}

extension Model {
    // MARK: - Subclassed models: layers from stored properties

    /// The layers a subclassed model holds in its stored properties, found by reflection in
    /// declaration order (a superclass's properties first): a `Layer` (a nested model too), and
    /// the layers inside optionals, arrays and tuples in order and dictionaries by sorted key.
    /// Each layer counts once. Keras tracks attributes in assignment order; declare the
    /// properties in that order. Layers held inside other structs or classes, or only captured
    /// by closures, are not found (hold them in a property of the model).
    public var trackedLayers: [Layer] {
        var out: [Layer] = [], seen: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        func add(_ value: Any, depth: Int) {
            if let layer = value as? Layer {
                if seen.insert(ObjectIdentifier(layer)).inserted { out.append(layer) }
                return
            }
            guard depth < 8 else { return }
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .optional?, .collection?, .tuple?:
                for child in mirror.children { add(child.value, depth: depth + 1) }
            case .dictionary?:
                let pairs: [(String, Any)] = mirror.children.compactMap { child in
                    let kv = Array(Mirror(reflecting: child.value).children)
                    return kv.count == 2 ? ("\(kv[0].value)", kv[1].value) : nil
                }
                for (_, v) in pairs.sorted(by: { $0.0 < $1.0 }) { add(v, depth: depth + 1) }
            default:
                break
            }
        }
        var chain: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror, m.subjectType != Model.self, m.subjectType != Layer.self {
            chain.append(m)
            mirror = m.superclassMirror
        }
        for m in chain.reversed() { for child in m.children { add(child.value, depth: 0) } }
        return out
    }

    /// The output shape of a subclassed model for a per-sample input shape: `call` on one zero
    /// sample in inference mode (which builds the layers on the first probe); the build's
    /// shape is remembered.
    func probeOutputShape(_ inputShape: [Int]) throws -> [Int] {
        if let probed = probedShapes, probed.input == inputShape { return probed.output }
        let outputs = try withoutGradients { try forward([Tensor.zeros([1] + inputShape, dtype: dtype)], training: false) }
        guard outputs.count == 1, outputs[0].rank >= 1 else {
            throw LaminaError.shape("\(name): call must return one batch, got \(outputs.count) tensors \(outputs.map(\.shape))")
        }
        let shape = Array(outputs[0].shape.dropFirst())
        // Only the build's probe is kept: later ones (other input shapes) write nothing, so
        // concurrent predictions on a snapshot (InferenceModel) only read the model.
        if probedShapes == nil { probedShapes = (inputShape, shape) }
        return shape
    }

    /// `buildAll` of a subclassed model: one input builds as a layer; several (a subclass that
    /// overrides `inputCount` and `forward`) run `forward` on zero samples.
    func buildSubclass(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        guard inputShapes.count == inputCount else {
            throw LaminaError.shape("\(name) takes \(inputCount) input\(inputCount == 1 ? "" : "s"), got \(inputShapes.count)")
        }
        if inputCount == 1 { return [try buildIfNeeded(inputShapes[0], dtype: dtype)] }
        if let dtype, !isBuilt { self.dtype = dtype }
        let outputs = try withoutGradients {
            try forward(inputShapes.map { Tensor.zeros([1] + $0, dtype: self.dtype) }, training: false)
        }
        if !isBuilt { markBuilt(inputShape: nil, outputShape: nil) }
        return outputs.map { Array($0.shape.dropFirst()) }
    }

    // MARK: - Steps: the defaults and the helpers of a custom step

    /// The compiled step: loss, gradients (exchanged across processes), optimizer, metrics.
    package func defaultTrainStep(_ batch: TrainingBatch) throws -> [String: Double] {
        let optimizer = try requireCompiled()
        let (loss, parts, predictions) = try trainStep(batch.inputs, batch.labels, optimizer: optimizer,
                                                       weights: batch.sampleWeight, share: batch.share)
        stepLosses.add(loss, parts: parts, count: Double(batch.globalCount))
        stepLosses.usedDefault = true
        if batch.inputs[0].shape[0] > 0 { updateMetrics(batch.labels, predictions) }
        return try logs(loss: stepLosses.mean, parts: stepLosses.partMeans)
    }

    /// The compiled evaluation of this process's rows: losses summed into the tracker (summed
    /// over processes at the end of `evaluate`), metrics updated.
    package func defaultTestStep(_ batch: TrainingBatch) throws -> [String: Double] {
        let rows = batch.inputs[0].shape[0]
        let predictions = try inferenceStep(batch.inputs)
        let (loss, parts) = withoutGradients { totalLoss(batch.labels, predictions, weights: nil) }
        stepLosses.add(loss.scalarsAsDouble()[0], parts: parts.map { $0.scalarsAsDouble()[0] }, count: Double(rows))
        stepLosses.usedDefault = true
        updateMetrics(batch.labels, predictions)
        // Across processes the metric values are a collective: only `evaluate`'s end asks.
        guard Strategy.current is SingleProcess else { return ["loss": stepLosses.mean] }
        return try logs(loss: stepLosses.mean, parts: stepLosses.partMeans)
    }

    /// The compiled loss of predictions (each output's loss, weighted, plus the layers'
    /// regularization penalties when `training`), added to the loss tracker weighted by the
    /// batch size. Keras: `compute_loss(x, y, y_pred, sample_weight, training)`.
    public func computeLoss(x: [Tensor]? = nil, y: [Tensor], yPred: [Tensor], sampleWeight: Tensor? = nil,
                            training: Bool = true) throws -> Tensor {
        _ = try requireCompiled()
        guard y.count == outputLosses.count, yPred.count == y.count else {
            throw LaminaError.shape("computeLoss: \(name) has \(outputLosses.count) output\(outputLosses.count == 1 ? "" : "s"), got \(y.count) labels and \(yPred.count) predictions")
        }
        for (t, p) in zip(y, yPred) where t.rank < 1 || p.rank < 1 || t.shape[0] != p.shape[0] {
            throw LaminaError.shape("computeLoss: labels \(t.shape) and predictions \(p.shape) must have the same number of rows")
        }
        if let sampleWeight, sampleWeight.count != yPred[0].shape[0] {
            throw LaminaError.shape("computeLoss: sampleWeight \(sampleWeight.shape) must hold one weight per sample (\(yPred[0].shape[0]))")
        }
        let (total, parts) = totalLoss(y, yPred, weights: sampleWeight?.reshaped(to: [sampleWeight!.count]).cast(to: yPred[0].dtype))
        let loss = training ? losses.reduce(total) { $0 + $1 } : total
        stepLosses.add(loss.scalarsAsDouble()[0], parts: outputCount > 1 ? parts.map { $0.scalarsAsDouble()[0] } : [],
                        count: Double(yPred[0].shape[0]))
        return loss
    }

    /// `computeLoss` for a model with one output.
    public func computeLoss(x: Tensor? = nil, y: Tensor, yPred: Tensor, sampleWeight: Tensor? = nil, training: Bool = true) throws -> Tensor {
        try computeLoss(x: x.map { [$0] }, y: [y], yPred: [yPred], sampleWeight: sampleWeight, training: training)
    }

    /// Updates the compiled metrics with a batch and returns every metric's value with the
    /// tracked loss. Keras: `compute_metrics(x, y, y_pred, sample_weight)`.
    public func computeMetrics(x: [Tensor]? = nil, y: [Tensor], yPred: [Tensor], sampleWeight: Tensor? = nil) throws -> [String: Double] {
        guard y.count == outputCount, yPred.count == y.count else {
            throw LaminaError.shape("computeMetrics: \(name) has \(outputCount) output\(outputCount == 1 ? "" : "s"), got \(y.count) labels and \(yPred.count) predictions")
        }
        updateMetrics(y, yPred.map { $0.detached() })
        return try metricsResult()
    }

    /// `computeMetrics` for a model with one output.
    public func computeMetrics(x: Tensor? = nil, y: Tensor, yPred: Tensor, sampleWeight: Tensor? = nil) throws -> [String: Double] {
        try computeMetrics(x: x.map { [$0] }, y: [y], yPred: [yPred], sampleWeight: sampleWeight)
    }

    /// The tracked loss and the compiled metrics' values. Keras: `get_metrics_result()`.
    public func metricsResult() throws -> [String: Double] {
        try logs(loss: stepLosses.mean, parts: stepLosses.partMeans)
    }

    /// Applies gradients with the compiled optimizer, first summing them over processes under
    /// DataParallel (each weighted by its share of the batch), so that a custom `trainStep`
    /// trains replicas as the default one. Keras: `optimizer.apply(grads, trainable_variables)`.
    public func applyGradients(_ gradients: [Tensor], to variables: [Variable]) throws {
        let optimizer = try requireCompiled()
        guard gradients.count == variables.count else {
            throw LaminaError.value("applyGradients: \(gradients.count) gradients for \(variables.count) variables")
        }
        let (exchanged, _) = try Strategy.current.exchange(self, gradients: gradients, values: [0], share: stepShare)
        try optimizer.apply(exchanged, to: variables)
    }
}
