/// Shared machinery of `MaxPooling2D` and `AveragePooling2D` (NHWC).
public class Pooling2D: Layer {
    /// The window's (height, width) and the step between windows (defaults (2, 2), and the pool size).
    public let poolSize: (Int, Int), strides: (Int, Int)
    /// `.valid` (whole windows only) or `.same` (output ⌈size / strides⌉). Keras: `padding`.
    public let padding: Padding

    /// Keras: `pool_size=(2, 2), strides=None` (None means the pool size), `padding="valid"`.
    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
        super.init(name: name, inputShape: inputShape)
        if poolSize.0 <= 0 || poolSize.1 <= 0 || self.strides.0 <= 0 || self.strides.1 <= 0 {
            reject("poolSize \(poolSize) and strides \(self.strides) must be positive")
        }
        check(padding)
    }

    /// Square pools: `MaxPooling2D(poolSize: 2)`.
    public convenience init(poolSize: Int, strides: Int? = nil, padding: Padding = .valid,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(poolSize: (poolSize, poolSize), strides: strides.map { ($0, $0) }, padding: padding,
                  inputShape: inputShape, name: name)
    }

    /// Keras's positional spelling: `MaxPooling2D((2, 2))`.
    public convenience init(_ poolSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(poolSize: poolSize, strides: strides, padding: padding, inputShape: inputShape, name: name)
    }

    public override func config() throws -> [String: Any] {
        ["pool_size": [poolSize.0, poolSize.1], "strides": [strides.0, strides.1], "padding": padding.rawValue]
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        let g = WindowGeometry(inH: s[0], inW: s[1], kH: poolSize.0, kW: poolSize.1,
                               strideH: strides.0, strideW: strides.1, padding: padding)
        guard g.outH > 0 && g.outW > 0 else { throw LaminaError.shape("\(name): input \(describe(s)) is smaller than the pool \(poolSize)") }
        return [g.outH, g.outW, s[2]]
    }
}

/// Max over pooling windows. Keras: `keras.layers.MaxPooling2D` (pool 2×2, strides = pool).
public final class MaxPooling2D: Pooling2D {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try MaxPooling2D(poolSize: r.pair("pool_size", default: (2, 2)), strides: r.optionalPair("strides"),
                         padding: r.padding(), name: r.layerName())
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.maxPool2d(poolSize: poolSize, strides: strides, padding: padding)
    }
}

/// Mean over pooling windows. Keras: `keras.layers.AveragePooling2D`.
public final class AveragePooling2D: Pooling2D {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try AveragePooling2D(poolSize: r.pair("pool_size", default: (2, 2)), strides: r.optionalPair("strides"),
                             padding: r.padding(), name: r.layerName())
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.avgPool2d(poolSize: poolSize, strides: strides, padding: padding)
    }
}
