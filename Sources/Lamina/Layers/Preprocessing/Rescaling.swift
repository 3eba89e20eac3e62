import Foundation

/// `x · scale + offset`, e.g. pixels to [0, 1] with `Rescaling(1.0 / 255)`. Keras: `Rescaling`.
public final class Rescaling: Layer {
    /// The factor and the value added after it.
    public let scale: Double, offset: Double
    /// Keras: `keras.layers.Rescaling(scale, offset=0.0)`; a non-finite value is reported through `argumentError`.
    public init(_ scale: Double, offset: Double = 0, inputShape: [Int]? = nil, name: String? = nil) {
        (self.scale, self.offset) = (scale, offset)
        super.init(name: name, inputShape: inputShape)
        if !scale.isFinite || !offset.isFinite { reject("scale \(scale) and offset \(offset) must be finite") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Rescaling(r.double("scale"), offset: r.double("offset", default: 0), name: r.layerName())
    }
    public override func config() throws -> [String: Any] { ["scale": scale, "offset": offset] }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let y = x.dtype.isFloatingPoint ? x : x.cast(to: dtype)
        return offset == 0 ? y * scale : y * scale + offset
    }
}
