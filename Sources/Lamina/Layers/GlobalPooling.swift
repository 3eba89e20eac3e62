import Foundation

/// Shared machinery of the global poolings: a mean or maximum over the spatial axes (steps, or
/// height and width) of channels-last input.
public class GlobalPooling: Layer {
    /// Whether the pooled axes stay as size 1 (Keras `keepdims`, default false).
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
    /// Keras: `keras.layers.GlobalAveragePooling2D(keepdims=False)`; PyTorch: `AdaptiveAvgPool2d(1)`.
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
    /// Keras: `keras.layers.GlobalMaxPooling2D(keepdims=False)`; PyTorch: `AdaptiveMaxPool2d(1)`.
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
    /// Keras: `keras.layers.GlobalAveragePooling1D(keepdims=False)`.
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
    /// Keras: `keras.layers.GlobalMaxPooling1D(keepdims=False)`.
    public init(keepDims: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        super.init(keepDims: keepDims, spatialRank: 1, inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try GlobalMaxPooling1D(keepDims: r.bool("keepdims", default: false), name: r.channelsLastLayerName())
    }
    override func reduce(_ x: Tensor, axes: [Int]) -> Tensor { x.max(axes: axes, keepDims: keepDims) }
}
