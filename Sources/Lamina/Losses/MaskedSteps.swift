/// The steps of a padded batch that count, for losses and metrics: Keras weighs each step by
/// the predictions' mask (`y_pred._keras_mask`), so a masked loss is Σ loss·mask / Σ mask and a
/// masked metric counts only unmasked steps.
///
/// A mask over the predictions' leading axes ([batch, steps] for [batch, steps, classes]) turns
/// each (sample, step) into a row of its own; the rows whose mask is 1 are kept, with the
/// sample each came from (for sample weights). Predictions without a mask, or whose mask covers
/// every axis (no per-step loss to weigh), are used as they are.
struct MaskedSteps {
    let labels: Tensor
    let predictions: Tensor
    /// For each kept row, the sample (batch row) it belongs to.
    let samples: [Int]

    init?(_ yTrue: Tensor, _ yPred: Tensor) {
        guard let mask = yPred.kerasMask, mask.rank >= 1, mask.rank < yPred.rank,
              Array(yPred.shape.prefix(mask.rank)) == mask.shape else { return nil }
        let steps = mask.count, perSample = steps / Swift.max(yPred.shape[0], 1)
        let perStep = yTrue.count / Swift.max(steps, 1)
        guard steps > 0, perStep * steps == yTrue.count else { return nil }
        let keep = mask.scalarsAsDouble().enumerated().compactMap { $0.element != 0 ? $0.offset : nil }
        predictions = yPred.reshaped(to: [steps] + yPred.shape.dropFirst(mask.rank)).gather(rows: keep)
        // Sparse labels cover the mask's axes only; dense ones also the predictions' last axes.
        let rest = Array(yTrue.shape.dropFirst(Swift.min(mask.rank, yTrue.rank)))
        let labelShape = perStep == 1 && yTrue.rank <= mask.rank ? [] : (Shape.count(rest) == perStep ? rest : [perStep])
        labels = yTrue.reshaped(to: [steps] + labelShape).gather(rows: keep)
        samples = keep.map { $0 / perSample }
    }
}

extension Loss {
    /// The batch's loss as Keras reduces it (`sum_over_batch_size`), honouring the predictions'
    /// mask and per-sample weights: Σ loss·weight over the steps that count, divided by their
    /// number (0 when none counts).
    func reduced(_ yTrue: Tensor, _ yPred: Tensor, sampleWeights: Tensor?) -> Tensor {
        guard let steps = MaskedSteps(yTrue, yPred) else {
            guard let sampleWeights else { return perSample(yTrue, yPred).mean() }
            return (perSample(yTrue, yPred) * sampleWeights.cast(to: yPred.dtype)).mean()
        }
        guard !steps.samples.isEmpty else { return Tensor.zeros([], dtype: yPred.dtype) }
        let values = perSample(steps.labels, steps.predictions)
        guard let sampleWeights else { return values.mean() }
        let w = sampleWeights.reshaped(to: [-1]).cast(to: yPred.dtype).gather(rows: steps.samples)
        return (values * w).mean()
    }
}

extension Metric {
    /// Adds a batch as Keras's `update_state` does: only the steps the predictions' mask keeps
    /// count (`update` takes every row as given). Models update their metrics through this.
    public func updateState(_ yTrue: Tensor, _ yPred: Tensor) {
        guard let steps = MaskedSteps(yTrue, yPred) else { return update(yTrue, yPred) }
        if !steps.samples.isEmpty { update(steps.labels, steps.predictions) }
    }
}
