import Foundation

/// Multiplies the last axis by a learned per-channel scale `gamma`, which starts at
/// `initValues`. Keras: the `LayerScale` layer of `keras.applications.convnext` (ConvNeXt's
/// blocks), saved under that module so that `.keras` files of `ConvNeXtTiny` load.
///
/// Input `[batch, ..., projectionDim]` → the same shape. Weight: gamma `[projectionDim]`.
public final class LayerScale: Layer {
    /// Keras's module for this class: it lives in `keras.applications.convnext`, not `keras.layers`.
    public override class var kerasModule: String { "keras.src.applications.convnext" }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try LayerScale(initValues: r.double("init_values"), projectionDim: r.int("projection_dim", minimum: 1), name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)
        return [[projectionDim]]
    }

    /// The scale's initial value (Keras's `init_values`; ConvNeXt uses 1e-6).
    public let initValues: Double
    /// The size of the last axis (Keras's `projection_dim`).
    public let projectionDim: Int
    /// The per-channel scale, once built.
    public private(set) var gamma: Variable?

    /// Keras's `LayerScale(init_values, projection_dim)`.
    public init(initValues: Double, projectionDim: Int, inputShape: [Int]? = nil, name: String? = nil) {
        (self.initValues, self.projectionDim) = (initValues, projectionDim)
        super.init(name: name, inputShape: inputShape)
        if projectionDim <= 0 { reject("projectionDim must be positive, got \(projectionDim)") }
        if !initValues.isFinite { reject("initValues must be finite, got \(initValues)") }
    }

    public override func build(inputShape: [Int]) throws {
        _ = try computeOutputShape(inputShape)
        gamma = addWeight("gamma", shape: [projectionDim], initializer: .constant(initValues))
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard let last = s.last, last == projectionDim else {
            throw LaminaError.shape("\(name) (LayerScale) expects a last axis of projectionDim \(projectionDim), got \(describe(s))")
        }
        return s
    }

    /// Keras's `get_config()`: `init_values`, `projection_dim`.
    public override func config() throws -> [String: Any] { ["init_values": initValues, "projection_dim": projectionDim] }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let gamma else { throw LaminaError.configuration("\(name) is not built") }
        return x * gamma.value
    }
}
