import Foundation

/// Normalizes each sample over its last axis, then scales by `gamma` and shifts by `beta`.
/// Keras: `LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)`.
public final class LayerNormalization: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    /// The variance epsilon, and whether the layer has `beta` and `gamma`.
    public let epsilon: Double, center: Bool, scale: Bool
    /// The learned scale and offset, once built.
    public private(set) var gamma: Variable?, beta: Variable?

    /// Keras: `LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)`.
    public init(axis: Int = -1, epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.epsilon, self.center, self.scale) = (epsilon, center, scale)
        super.init(name: name, inputShape: inputShape)
        if axis != -1 { reject("only the last axis is supported, got axis \(axis)") }
        if !(epsilon > 0) { reject("epsilon must be positive, got \(epsilon)") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let axis = try r.value("axis") is [Any] ? r.ints("axis", minimum: -100) : [r.int("axis", default: -1)]
        guard axis == [-1] else { throw r.error("only axis -1 is supported, got \(axis)") }
        _ = r.value("rms_scaling")
        return try LayerNormalization(epsilon: r.double("epsilon", default: 1e-3, in: 0...1), center: r.bool("center", default: true),
                                      scale: r.bool("scale", default: true), name: r.layerName())
    }
    public override func config() throws -> [String: Any] { ["axis": -1, "epsilon": epsilon, "center": center, "scale": scale] }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        Array(repeating: [s.last ?? 0], count: (scale ? 1 : 0) + (center ? 1 : 0))
    }
    public override func build(inputShape: [Int]) throws {
        guard let c = inputShape.last else { throw LaminaError.shape("\(name) expects a feature axis, got \(describe(inputShape))") }
        if scale { gamma = addWeight("gamma", shape: [c], initializer: .ones) }
        if center { beta = addWeight("beta", shape: [c], initializer: .zeros) }
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let n = x.shape.last ?? 0
        if (x.dtype == .float32 || x.dtype == .float64) && x.rank >= 1
            && gamma.map({ $0.value.dtype == x.dtype && $0.value.shape == [n] }) ?? true
            && beta.map({ $0.value.dtype == x.dtype && $0.value.shape == [n] }) ?? true {
            // One fused op (forward and backward) instead of nine elementwise ones.
            return Tensor.layerNormalization(x, gamma: gamma?.value, beta: beta?.value, epsilon: epsilon)
        }
        let last = x.rank - 1
        let mean = x.mean(axes: [last], keepDims: true)
        let centered = x - mean
        let variance = centered.square().mean(axes: [last], keepDims: true)
        var y = centered / (variance + epsilon).sqrt()
        if let gamma { y = y * gamma.value }
        if let beta { y = y + beta.value }
        return y
    }
}
