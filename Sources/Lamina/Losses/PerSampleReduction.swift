import Foundation

// Keras's further losses, each a mean over the last axis per sample (then over the batch, as
// every Lamina loss). Formulas as Keras 3 computes them (keras/src/losses/losses.py).

/// The per-sample mean of `values` over everything but the batch axis.
func perSampleMean(_ values: Tensor, batch: Int) -> Tensor { values.reshaped(to: [batch, -1]).mean(axis: 1) }

/// The per-sample sum over the last axis, then the mean over any other non-batch axes.
func perSampleSum(_ values: Tensor, batch: Int) -> Tensor {
    values.sum(axes: [values.rank - 1]).reshaped(to: [batch, -1]).mean(axis: 1)
}
