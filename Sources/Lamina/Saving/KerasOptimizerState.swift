import Foundation

/// A compiled model's optimizer state as Keras 3 lists it (`optimizer.variables`, saved as
/// `optimizer/vars/0, 1, ...` in `model.weights.h5`): the iteration count, the learning rate
/// (absent when a schedule gives it), the slots, and trailing scalars (Nadam's momentum-schedule
/// product). Keras creates the slots per call of `add_optimizer_variables`, interleaving the
/// names of one call per variable — see `Optimizer.kerasSlotGroups`.
public struct KerasOptimizerState {
    /// The optimizer's step count.
    public var iterations: Int
    /// The learning rate Keras saved, if any.
    public var learningRate: Double?
    /// The slots in Keras's order.
    public var slots: [Tensor]
    /// Scalars Keras keeps after the slots (Nadam's momentum-schedule product).
    public var trailingScalars: [Double]

    /// The state Keras's `optimizer` weights hold, in Lamina's terms.
    public init(iterations: Int, learningRate: Double?, slots: [Tensor], trailingScalars: [Double] = []) {
        (self.iterations, self.learningRate, self.slots, self.trailingScalars) = (iterations, learningRate, slots, trailingScalars)
    }

    /// How many variables Keras keeps for this state.
    public var variableCount: Int { 1 + (learningRate == nil ? 0 : 1) + slots.count + trailingScalars.count }
}

extension Model {
    /// The optimizer's state in Keras's layout; nil before the first training step (Keras then
    /// builds a fresh one) or when the model is not compiled.
    public func kerasOptimizerState() -> KerasOptimizerState? {
        guard let optimizer, optimizer.iterations > 0 else { return nil }
        let variables = variablesToTrain
        var slots: [Tensor] = []
        for group in optimizer.kerasSlotGroups {
            for v in variables {
                let own = optimizer.slots(for: v) ?? optimizer.freshSlots(for: v)
                slots += group.map { own[$0] }
            }
        }
        return KerasOptimizerState(iterations: optimizer.iterations, learningRate: optimizer.schedule == nil ? optimizer.learningRate : nil,
                                   slots: slots, trailingScalars: optimizer.kerasTrailingScalars)
    }

    /// Restores the optimizer from Keras's variables (`iterations`, learning rate, slots),
    /// checking that they fit this model's trained variables; trailing scalars are recomputed.
    public func setKerasOptimizerState(_ state: KerasOptimizerState) throws {
        guard let optimizer else { throw LaminaError.configuration("\(name) is not compiled: no optimizer to restore") }
        let variables = variablesToTrain
        let expected = optimizer.kerasSlotGroups.reduce(0) { $0 + $1.count } * variables.count
        guard state.slots.count == expected else {
            throw LaminaError.value("\(optimizer.name) keeps \(expected) slots for \(variables.count) variables, the state has \(state.slots.count)")
        }
        var restored = [[Tensor?]](repeating: Array(repeating: nil, count: optimizer.slotCount), count: variables.count)
        var next = 0
        for group in optimizer.kerasSlotGroups {
            for (position, v) in variables.enumerated() {
                for index in group {
                    let t = state.slots[next]
                    next += 1
                    guard t.shape == v.shape else {
                        throw LaminaError.value("optimizer slot \(optimizer.slotNames[index]) of \(v.name) has shape \(t.shape), the weight is \(v.shape)")
                    }
                    restored[position][index] = t.cast(to: v.value.dtype)
                }
            }
        }
        for (v, list) in zip(variables, restored) where !list.contains(where: { $0 == nil }) { optimizer.setSlots(list.map { $0! }, for: v) }
        optimizer.iterations = state.iterations
        // Keras keeps the rate as float32; the config's double stands unless a callback changed it.
        if let learningRate = state.learningRate, optimizer.schedule == nil, Float(learningRate) != Float(optimizer.learningRate) {
            optimizer.learningRate = learningRate
        }
    }
}
