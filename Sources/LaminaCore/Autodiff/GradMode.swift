/// Whether ops record themselves on the tape. Task-local, so concurrent tasks (and tests
/// running in parallel) do not disturb each other.
public enum GradMode {
    @TaskLocal static var disabled = false

    /// Whether ops record themselves on the tape here (false inside `withoutGradients`).
    public static var isEnabled: Bool { !disabled }

    /// Whether an op on `inputs` records itself: gradients are enabled and an input (nil ones
    /// skipped) is on the tape. Ops with a faster path for inference branch on it.
    public static func records(_ inputs: [Tensor?]) -> Bool {
        isEnabled && inputs.contains { $0?.node != nil }
    }
}

/// Runs `body` without recording any op: the inference scope (PyTorch's `torch.no_grad()`).
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$disabled.withValue(true, operation: body)
}
