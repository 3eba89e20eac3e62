/// Custom training loops, as Keras 3's "writing a training loop from scratch" guide writes
/// them with `GradientTape` (or `jax.value_and_grad`) and `optimizer.apply`:
///
/// ```swift
/// for (x, y) in batches {
///     let (loss, gradients) = try valueAndGradients(of: model) {
///         let prediction = try model(x, training: true)
///         return lossFunction(y, prediction)
///     }
///     try optimizer.apply(gradients, to: model.trainableVariables)
///     accuracy.update(y, prediction)            // metrics by hand
/// }
/// ```
/// The closure runs with the model's trainable variables recording operations (nothing else is
/// recorded); the gradients come back in `trainableVariables` order.
public func valueAndGradients(of model: Layer, _ body: () throws -> Tensor) throws -> (value: Double, gradients: [Tensor]) {
    try valueAndGradients(of: model.trainableVariables, body)
}

/// The value of `body` and its gradients with respect to `variables`.
public func valueAndGradients(of variables: [Variable], _ body: () throws -> Tensor) throws -> (value: Double, gradients: [Tensor]) {
    for v in variables { v.value.requiresGrad = true }
    defer { for v in variables { v.value.requiresGrad = false } }
    let value = try body()
    guard value.count == 1 else {
        throw LaminaError.shape("valueAndGradients: the closure must return a scalar loss, got shape \(value.shape) (take .mean())")
    }
    guard value.dtype.isFloatingPoint else { throw LaminaError.value("valueAndGradients: the loss must be a float tensor, got \(value.dtype)") }
    let number = value.scalarsAsDouble()[0]
    return (number, variables.isEmpty ? [] : value.reshaped(to: []).gradients(wrt: variables.map(\.value)))
}

extension Layer {
    /// The variables training updates, each once: trainable weights of trainable layers, in
    /// `weights` order. Keras: `model.trainable_variables`.
    public var trainableVariables: [Variable] {
        var seen = Set<ObjectIdentifier>()
        return trainableWeights.filter { seen.insert(ObjectIdentifier($0)).inserted }
    }
}

extension Optimizer {
    /// Applies one step from gradients a custom loop computed, checking that they fit the
    /// variables (count, shapes). Keras: `optimizer.apply(grads, model.trainable_variables)`.
    public func apply(_ gradients: [Tensor], to variables: [Variable]) throws {
        guard gradients.count == variables.count else {
            throw LaminaError.value("Optimizer.apply: \(gradients.count) gradients for \(variables.count) variables")
        }
        for (g, v) in zip(gradients, variables) where g.shape != v.shape {
            throw LaminaError.shape("Optimizer.apply: the gradient of \(v.name) has shape \(g.shape), the variable \(v.shape)")
        }
        try step(gradients, to: variables)
    }
}
