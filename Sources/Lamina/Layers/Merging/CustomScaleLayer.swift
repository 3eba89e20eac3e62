import Foundation

/// The first input plus the second times a fixed `scale`: InceptionResNetV2's residual
/// (`x + branch * 0.17`). Keras: the `CustomScaleLayer` of
/// `keras.applications.inception_resnet_v2`, saved under that module so that `.keras` files of
/// `InceptionResNetV2` load. Called on a list of two tensors of the same shape:
/// `CustomScaleLayer(scale: 0.17)([x, branch])`. No weights.
public final class CustomScaleLayer: MergeLayer {
    /// Keras's module for this class: it lives in `keras.applications.inception_resnet_v2`.
    public override class var kerasModule: String { "keras.src.applications.inception_resnet_v2" }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let layer = CustomScaleLayer(scale: try r.double("scale"), name: try r.layerName())
        if let error = layer.argumentError { throw r.error(error.message) }
        return layer
    }

    /// The factor on the second input (Keras's `scale`).
    public let scale: Double

    /// Keras's `CustomScaleLayer(scale)`.
    public init(scale: Double, name: String? = nil) {
        self.scale = scale
        super.init(name: name)
        if !scale.isFinite { reject("scale must be finite, got \(scale)") }
    }

    /// Keras's `get_config()`: `scale`.
    public override func config() throws -> [String: Any] { ["scale": scale] }

    public override var minimumInputs: Int { 2 }

    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        guard shapes.count == 2, shapes[0] == shapes[1] else {
            throw LaminaError.shape("\(name) (CustomScaleLayer) takes two inputs of the same shape, got \(shapes.map { describe($0) }.joined(separator: " and "))")
        }
        return shapes[0]
    }

    public override func merge(_ inputs: [Tensor]) throws -> Tensor { inputs[0] + inputs[1] * scale }
}
