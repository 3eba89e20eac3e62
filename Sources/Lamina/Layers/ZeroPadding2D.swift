import Foundation

/// Zero rows and columns around NHWC images. Keras: `ZeroPadding2D(padding=((top, bottom), (left, right)))`.
public final class ZeroPadding2D: Layer {
    /// The zero rows added at the top and bottom and the zero columns at the left and right.
    public let padding: (top: Int, bottom: Int, left: Int, right: Int)
    /// Keras: `keras.layers.ZeroPadding2D(padding=((top, bottom), (left, right)))`; a negative amount is reported through `argumentError`.
    public init(padding: ((Int, Int), (Int, Int)), inputShape: [Int]? = nil, name: String? = nil) {
        self.padding = (padding.0.0, padding.0.1, padding.1.0, padding.1.1)
        super.init(name: name, inputShape: inputShape)
        if [self.padding.top, self.padding.bottom, self.padding.left, self.padding.right].contains(where: { $0 < 0 }) {
            reject("padding \(padding) must not be negative")
        }
    }
    /// The same padding on every side (Keras: `ZeroPadding2D(1)`), or (rows, columns).
    public convenience init(padding: Int = 1, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(padding: ((padding, padding), (padding, padding)), inputShape: inputShape, name: name)
    }
    /// Symmetric padding: `rows` at top and bottom, `columns` at left and right. Keras: `ZeroPadding2D(padding=(rows, columns))`.
    public convenience init(padding: (Int, Int), inputShape: [Int]? = nil, name: String? = nil) {
        self.init(padding: ((padding.0, padding.0), (padding.1, padding.1)), inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let (rows, columns) = try r.pairOfPairs("padding")
        return try ZeroPadding2D(padding: (rows, columns), name: r.channelsLastLayerName())
    }
    public override func config() throws -> [String: Any] {
        ["padding": [[padding.top, padding.bottom], [padding.left, padding.right]], "data_format": "channels_last"]
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        return [s[0] + padding.top + padding.bottom, s[1] + padding.left + padding.right, s[2]]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.padded(with: [(0, 0), (padding.top, padding.bottom), (padding.left, padding.right), (0, 0)])
    }
}
