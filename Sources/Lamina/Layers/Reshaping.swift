import Foundation

// Keras's shape and scale layers built from existing differentiable ops: global pooling (1-D and 2-D),
// RepeatVector, Rescaling, ZeroPadding2D and Cropping2D. Each owns its round trip.

/// Shared machinery of the global poolings: a mean or maximum over the spatial axes (steps, or
/// height and width) of channels-last input.
public class GlobalPooling: Layer {
    public let keepDims: Bool
    /// 1 for the 1-D poolings (over steps), 2 for the 2-D ones (over height and width).
    let spatialRank: Int

    init(keepDims: Bool, spatialRank: Int, inputShape: [Int]?, name: String?) {
        (self.keepDims, self.spatialRank) = (keepDims, spatialRank)
        super.init(name: name, inputShape: inputShape)
    }
    public override func config() throws -> [String: Any] { ["keepdims": keepDims, "data_format": "channels_last"] }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == spatialRank + 1 else {
            let expected = spatialRank == 1 ? "[*, steps, features]" : "[*, height, width, channels]"
            throw LaminaError.shape("\(name) expects \(expected), got \(describe(s))")
        }
        return keepDims ? Array(repeating: 1, count: spatialRank) + [s[spatialRank]] : [s[spatialRank]]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { reduce(x, axes: Array(1...spatialRank)) }
    func reduce(_ x: Tensor, axes: [Int]) -> Tensor { fatalError("\(className) must override reduce") }
}

/// The mean over height and width. Keras: `GlobalAveragePooling2D(keepdims=False)`.
public final class GlobalAveragePooling2D: GlobalPooling {
    public init(keepDims: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        super.init(keepDims: keepDims, spatialRank: 2, inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try GlobalAveragePooling2D(keepDims: r.bool("keepdims", default: false), name: r.channelsLastLayerName())
    }
    override func reduce(_ x: Tensor, axes: [Int]) -> Tensor { x.mean(axes: axes, keepDims: keepDims) }
}

/// The maximum over height and width. Keras: `GlobalMaxPooling2D(keepdims=False)`.
public final class GlobalMaxPooling2D: GlobalPooling {
    public init(keepDims: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        super.init(keepDims: keepDims, spatialRank: 2, inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try GlobalMaxPooling2D(keepDims: r.bool("keepdims", default: false), name: r.channelsLastLayerName())
    }
    override func reduce(_ x: Tensor, axes: [Int]) -> Tensor { x.max(axes: axes, keepDims: keepDims) }
}

/// The mean over steps. Keras: `GlobalAveragePooling1D(keepdims=False)`.
public final class GlobalAveragePooling1D: GlobalPooling {
    public init(keepDims: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        super.init(keepDims: keepDims, spatialRank: 1, inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try GlobalAveragePooling1D(keepDims: r.bool("keepdims", default: false), name: r.channelsLastLayerName())
    }
    override func reduce(_ x: Tensor, axes: [Int]) -> Tensor { x.mean(axes: axes, keepDims: keepDims) }

    /// A padded batch averages only the steps its mask keeps (Σ x·mask / Σ mask), as Keras;
    /// the output has no mask. A sample whose every step is masked averages to 0 (Keras 3 divides
    /// 0 by 0 there and returns NaN; Lamina never makes a NaN from valid input).
    public override var supportsMasking: Bool { true }
    public override func computeMask(_ x: Tensor, mask: Tensor?) throws -> Tensor? { nil }
    public override func call(_ x: Tensor, mask: Tensor?, training: Bool) throws -> Tensor {
        guard let mask else { return try call(x, training: training) }
        guard mask.shape == Array(x.shape.prefix(2)) else {
            throw LaminaError.shape("\(name): mask of shape \(mask.shape) does not fit input \(x.shape)")
        }
        let m = mask.cast(to: x.dtype).expandingDims(axis: 2)
        return (x * m).sum(axes: [1], keepDims: keepDims) / maximum(m.sum(axes: [1], keepDims: keepDims), .scalar(1, dtype: x.dtype))
    }
}

/// The maximum over steps. Keras: `GlobalMaxPooling1D(keepdims=False)`. As in Keras 3, a mask is
/// not honoured: padded steps take part in the maximum, and the mask ends here (with Keras's warning).
public final class GlobalMaxPooling1D: GlobalPooling {
    public init(keepDims: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        super.init(keepDims: keepDims, spatialRank: 1, inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try GlobalMaxPooling1D(keepDims: r.bool("keepdims", default: false), name: r.channelsLastLayerName())
    }
    override func reduce(_ x: Tensor, axes: [Int]) -> Tensor { x.max(axes: axes, keepDims: keepDims) }
}

/// Repeats a [batch, features] input `n` times: [batch, n, features]. Keras: `RepeatVector(n)`.
public final class RepeatVector: Layer {
    public let n: Int
    public init(_ n: Int, inputShape: [Int]? = nil, name: String? = nil) {
        self.n = n
        super.init(name: name, inputShape: inputShape)
        if n <= 0 { reject("n must be positive, got \(n)") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try RepeatVector(r.int("n", minimum: 1), name: r.layerName()) }
    public override func config() throws -> [String: Any] { ["n": n] }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 1 else { throw LaminaError.shape("\(name) expects [*, features], got \(describe(s))") }
        return [n, s[0]]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.expandingDims(axis: 1).broadcasted(to: [x.shape[0], n, x.shape[1]])
    }
}

/// `x · scale + offset`, e.g. pixels to [0, 1] with `Rescaling(1.0 / 255)`. Keras: `Rescaling`.
public final class Rescaling: Layer {
    public let scale: Double, offset: Double
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

/// Zero rows and columns around NHWC images. Keras: `ZeroPadding2D(padding=((top, bottom), (left, right)))`.
public final class ZeroPadding2D: Layer {
    public let padding: (top: Int, bottom: Int, left: Int, right: Int)
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

/// Rows and columns cut from the edges of NHWC images. Keras: `Cropping2D(cropping=((top, bottom), (left, right)))`.
public final class Cropping2D: Layer {
    public let cropping: (top: Int, bottom: Int, left: Int, right: Int)
    public init(cropping: ((Int, Int), (Int, Int)), inputShape: [Int]? = nil, name: String? = nil) {
        self.cropping = (cropping.0.0, cropping.0.1, cropping.1.0, cropping.1.1)
        super.init(name: name, inputShape: inputShape)
        if [self.cropping.top, self.cropping.bottom, self.cropping.left, self.cropping.right].contains(where: { $0 < 0 }) {
            reject("cropping \(cropping) must not be negative")
        }
    }
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

extension ConfigReader {
    /// The `name` entry, after checking `data_format` is channels-last (the only layout Lamina has).
    func channelsLastLayerName() throws -> String? {
        if let format = value("data_format"), !(format is NSNull) {
            guard (format as? String) == "channels_last" else { throw error("only data_format 'channels_last' is supported") }
        }
        return try layerName()
    }

    /// A positive int given as `3` or `[3]` (Keras's 1-D sizes); `default` when absent or null.
    func single(_ key: String, default fallback: Int? = nil) throws -> Int {
        let v = value(key)
        if v == nil || v is NSNull, let fallback { return fallback }
        let n = (v as? NSNumber)?.intValue ?? ((v as? [Any]).flatMap { $0.count == 1 ? ($0[0] as? NSNumber)?.intValue : nil })
        guard let n, n >= 1 else { throw error("'\(key)' must be a positive int or a list of one, got \(ConfigReader.show(v as Any))") }
        return n
    }

    /// Keras's `((top, bottom), (left, right))`, also given as one int or a pair (symmetric).
    func pairOfPairs(_ key: String) throws -> ((Int, Int), (Int, Int)) {
        let v = value(key)
        if let n = (v as? NSNumber)?.intValue, n >= 0 { return ((n, n), (n, n)) }
        guard let list = v as? [Any], list.count == 2 else { throw error("'\(key)' must be an int, a pair or a pair of pairs") }
        if let a = (list[0] as? NSNumber)?.intValue, let b = (list[1] as? NSNumber)?.intValue, a >= 0, b >= 0 { return ((a, a), (b, b)) }
        guard let r = list[0] as? [Any], let c = list[1] as? [Any], r.count == 2, c.count == 2,
              case let n = (r + c).compactMap({ ($0 as? NSNumber)?.intValue }), n.count == 4, n.allSatisfy({ $0 >= 0 }) else {
            throw error("'\(key)' must be an int, a pair or a pair of pairs of non-negative ints")
        }
        return ((n[0], n[1]), (n[2], n[3]))
    }
}
