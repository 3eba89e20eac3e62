import Foundation

/// Rows and columns cut from the edges of NHWC images. Keras: `Cropping2D(cropping=((top, bottom), (left, right)))`.
public final class Cropping2D: Layer {
    /// The rows cut from the top and bottom and the columns cut from the left and right.
    public let cropping: (top: Int, bottom: Int, left: Int, right: Int)
    /// Keras: `keras.layers.Cropping2D(cropping=((top, bottom), (left, right)))`; a negative amount is reported through `argumentError`.
    public init(cropping: ((Int, Int), (Int, Int)), inputShape: [Int]? = nil, name: String? = nil) {
        self.cropping = (cropping.0.0, cropping.0.1, cropping.1.0, cropping.1.1)
        super.init(name: name, inputShape: inputShape)
        if [self.cropping.top, self.cropping.bottom, self.cropping.left, self.cropping.right].contains(where: { $0 < 0 }) {
            reject("cropping \(cropping) must not be negative")
        }
    }
    /// The same number of rows and columns cut from every side. Keras: `Cropping2D(cropping=n)`.
    public convenience init(cropping: Int, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(cropping: ((cropping, cropping), (cropping, cropping)), inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let (rows, columns) = try r.pairOfPairs("cropping")
        return try Cropping2D(cropping: (rows, columns), name: r.channelsLastLayerName())
    }
    public override func config() throws -> [String: Any] {
        ["cropping": [[cropping.top, cropping.bottom], [cropping.left, cropping.right]], "data_format": "channels_last"]
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        let (h, w) = (s[0] - cropping.top - cropping.bottom, s[1] - cropping.left - cropping.right)
        guard h > 0 && w > 0 else { throw LaminaError.shape("\(name): cropping \(cropping) leaves nothing of \(describe(s))") }
        return [h, w, s[2]]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let (h, w) = (x.shape[1], x.shape[2])
        return x.sliced(axis: 1, cropping.top..<(h - cropping.bottom)).sliced(axis: 2, cropping.left..<(w - cropping.right))
    }
}
