import Foundation

// The 1-D layers run the 2-D ops on [batch, steps, 1, features].

/// Shared machinery of `MaxPooling1D` and `AveragePooling1D` over steps.
public class Pooling1D: Layer {
    /// The window's length and the step between windows (defaults 2, and the pool size).
    public let poolSize: Int, strides: Int
    /// `.valid` (whole windows only) or `.same` (output length ⌈steps / strides⌉). Keras: `padding`.
    public let padding: Padding
    /// Keras: `pool_size=2, strides=None` (the pool size), `padding="valid"`.
    public init(poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, inputShape: [Int]? = nil, name: String? = nil) {
        (self.poolSize, self.strides, self.padding) = (poolSize, strides ?? poolSize, padding)
        super.init(name: name, inputShape: inputShape)
        if poolSize <= 0 || self.strides <= 0 { reject("poolSize \(poolSize) and strides \(self.strides) must be positive") }
        check(padding)
    }
    public override func config() throws -> [String: Any] {
        ["pool_size": [poolSize], "strides": [strides], "padding": padding.rawValue, "data_format": "channels_last"]
    }
    static func arguments(_ r: ConfigReader) throws -> (Int, Int?, Padding, String?) {
        let strides = r.value("strides") == nil || r.value("strides") is NSNull ? nil : try r.single("strides")
        return (try r.single("pool_size", default: 2), strides, try r.padding(), try r.channelsLastLayerName())
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 2 else { throw LaminaError.shape("\(name) expects [*, steps, channels], got \(describe(s))") }
        let g = WindowGeometry(inH: s[0], inW: 1, kH: poolSize, kW: 1, strideH: strides, strideW: 1, padding: padding)
        guard g.outH > 0 else { throw LaminaError.shape("\(name): input \(describe(s)) is shorter than the pool \(poolSize)") }
        return [g.outH, s[1]]
    }
    func pool(_ x: Tensor, _ op: (Tensor) -> Tensor) -> Tensor {
        let (n, steps, c) = (x.shape[0], x.shape[1], x.shape[2])
        let y = op(x.reshaped(to: [n, steps, 1, c]))
        return y.reshaped(to: [n, y.shape[1], c])
    }
}

/// Max over windows of steps. Keras: `MaxPooling1D(pool_size=2)`.
public final class MaxPooling1D: Pooling1D {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let (p, s, padding, name) = try arguments(r)
        return MaxPooling1D(poolSize: p, strides: s, padding: padding, name: name)
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        pool(x) { $0.maxPool2d(poolSize: (poolSize, 1), strides: (strides, 1), padding: padding) }
    }
}

/// Mean over windows of steps. Keras: `AveragePooling1D(pool_size=2)`.
public final class AveragePooling1D: Pooling1D {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let (p, s, padding, name) = try arguments(r)
        return AveragePooling1D(poolSize: p, strides: s, padding: padding, name: name)
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        pool(x) { $0.avgPool2d(poolSize: (poolSize, 1), strides: (strides, 1), padding: padding) }
    }
}
