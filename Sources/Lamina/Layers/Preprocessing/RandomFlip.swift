import Foundation

/// Flips each image of a training batch with probability ½ (Keras: `RandomFlip(mode=
/// "horizontal_and_vertical")`; with both, one draw decides both flips).
public final class RandomFlip: RandomImageLayer {
    /// Which flips may be applied: left-right, up-down, or both. Keras: `mode`.
    public enum Mode: String, Sendable { case horizontal, vertical, horizontalAndVertical = "horizontal_and_vertical" }
    /// Which flips may be applied.
    public let mode: Mode
    /// Keras: `keras.layers.RandomFlip(mode="horizontal_and_vertical", seed=None)`; PyTorch: `transforms.RandomHorizontalFlip` / `RandomVerticalFlip`.
    public init(mode: Mode = .horizontalAndVertical, seed: UInt64? = nil, inputShape: [Int]? = nil, name: String? = nil) {
        self.mode = mode
        super.init(seed: seed, name: name, inputShape: inputShape)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let text = try r.string("mode", default: "horizontal_and_vertical")
        guard let mode = Mode(rawValue: text) else { throw r.error("'mode' must be horizontal, vertical or horizontal_and_vertical, got \(text)") }
        _ = r.value("data_format").map { _ in () }
        return RandomFlip(mode: mode, seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init), name: try r.layerName())
    }
    public override func config() throws -> [String: Any] { seedConfig().merging(["mode": mode.rawValue]) { $1 } }
    override func augment(_ x: Tensor) throws -> Tensor {
        let flips = uniform(x.shape[0], 0, 1).map { $0 <= 0.5 }
        guard flips.contains(true) else { return x }
        // Keras selects each image's flipped or original pixels (`where`): one copy here.
        return x.flippingImages(flips, horizontal: mode != .vertical, vertical: mode != .horizontal)
    }
}
