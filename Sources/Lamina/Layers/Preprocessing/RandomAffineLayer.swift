import Foundation

/// How an affine augmentation fills pixels that come from outside the image (Keras's
/// `fill_mode`), and how it samples between pixels (`interpolation`).
public enum FillMode: String, Sendable { case reflect, wrap, constant, nearest }

/// How an affine augmentation samples between pixels (Keras's `interpolation`): bilinear, or the nearest pixel.
public enum Interpolation: String, Sendable { case bilinear, nearest }

/// Applies one projective transform per image, as TensorFlow's `ImageProjectiveTransformV3`
/// (which Keras's `affine_transform` calls): output pixel (x, y) samples the input at
/// `((a0·x + a1·y + a2) / k, (b0·x + b1·y + b2) / k)`, `k = c0·x + c1·y + 1`, with the
/// coordinate mapped into the image by `fill` and neighbours outside it read as `fillValue`.
func affineTransform(_ images: Tensor, _ transforms: [[Double]], fill: FillMode, fillValue: Double,
                     interpolation: Interpolation) -> Tensor {
    let (n, h, w, c) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    let input = images.cast(to: .float32).asArray(Float.self)
    func map(_ coordinate: Float, _ length: Int) -> Float {
        let len = Float(length)
        var v = coordinate
        switch fill {
        case .constant: return v
        case .nearest: return min(max(v, 0), len - 1)
        case .reflect:
            if v < 0 {
                if length <= 1 { v = 0 } else {
                    let sz2 = 2 * len
                    if v < sz2 { v = sz2 * Float(Int(-v / sz2)) + v }
                    v = v < -len ? v + sz2 : -v - 1
                }
            } else if v > len - 1 {
                if length <= 1 { v = 0 } else {
                    let sz2 = 2 * len
                    v -= sz2 * Float(Int(v / sz2))
                    if v >= len { v = sz2 - v - 1 }
                }
            }
        case .wrap:
            if v < 0 {
                if length <= 1 { v = 0 } else { let sz = len - 1; v += len * (Float(Int(-v / sz)) + 1) }
            } else if v > len - 1 {
                if length <= 1 { v = 0 } else { let sz = len - 1; v -= len * Float(Int(v / sz)) }
            }
        }
        return min(max(v, 0), len - 1)
    }
    var out = [Float](repeating: 0, count: input.count)
    let fillValue = Float(fillValue)
    for b in 0..<n {
        let t = transforms[transforms.count == 1 ? 0 : b].map { Float($0) }
        func read(_ y: Float, _ x: Float, _ ch: Int) -> Float {
            guard y >= 0, x >= 0, y < Float(h), x < Float(w) else { return fillValue }
            return input[((b * h + Int(y)) * w + Int(x)) * c + ch]
        }
        for oy in 0..<h {
            for ox in 0..<w {
                let (fx, fy) = (Float(ox), Float(oy))
                let k = t[6] * fx + t[7] * fy + 1
                let base = ((b * h + oy) * w + ox) * c
                guard k != 0 else { for ch in 0..<c { out[base + ch] = fillValue }; continue }
                let x = map((t[0] * fx + t[1] * fy + t[2]) / k, w), y = map((t[3] * fx + t[4] * fy + t[5]) / k, h)
                for ch in 0..<c {
                    switch interpolation {
                    case .nearest:
                        out[base + ch] = read(y.rounded(.toNearestOrAwayFromZero), x.rounded(.toNearestOrAwayFromZero), ch)
                    case .bilinear:
                        let (y0, x0) = (y.rounded(.down), x.rounded(.down))
                        let (y1, x1) = (y0 + 1, x0 + 1)
                        let top = (x1 - x) * read(y0, x0, ch) + (x - x0) * read(y0, x1, ch)
                        let bottom = (x1 - x) * read(y1, x0, ch) + (x - x0) * read(y1, x1, ch)
                        out[base + ch] = (y1 - y) * top + (y - y0) * bottom
                    }
                }
            }
        }
    }
    return Tensor(shape: images.shape, scalars: out).cast(to: images.dtype)
}

/// The shared options of Keras's affine augmentations (`fill_mode="reflect"`,
/// `interpolation="bilinear"`, `fill_value=0`). The result is data for the next layer: no
/// gradient flows back through it.
public class RandomAffineLayer: RandomImageLayer {
    /// How pixels from outside the image are filled, how pixels are sampled, and the value used with `.constant`. Keras: `fill_mode`, `interpolation`, `fill_value`.
    public let fillMode: FillMode, interpolation: Interpolation, fillValue: Double
    init(fillMode: FillMode, interpolation: Interpolation, fillValue: Double, seed: UInt64?, name: String?, inputShape: [Int]?) {
        (self.fillMode, self.interpolation, self.fillValue) = (fillMode, interpolation, fillValue)
        super.init(seed: seed, name: name, inputShape: inputShape)
    }
    static func affineOptions(_ r: ConfigReader) throws -> (FillMode, Interpolation, Double, UInt64?) {
        let fill = try r.string("fill_mode", default: "reflect"), interp = try r.string("interpolation", default: "bilinear")
        guard let mode = FillMode(rawValue: fill) else { throw r.error("'fill_mode' must be reflect, wrap, constant or nearest, got \(fill)") }
        guard let interpolation = Interpolation(rawValue: interp) else { throw r.error("'interpolation' must be bilinear or nearest, got \(interp)") }
        _ = r.value("data_format")
        return (mode, interpolation, try r.double("fill_value", default: 0), try r.optionalInt("seed", minimum: 0).map(UInt64.init))
    }
    func affineConfig() -> [String: Any] {
        seedConfig().merging(["fill_mode": fillMode.rawValue, "interpolation": interpolation.rawValue, "fill_value": fillValue]) { $1 }
    }
    /// One transform (8 numbers) per image of a batch of `height` × `width` images.
    func transforms(count: Int, height: Int, width: Int) -> [[Double]] { [] }
    override func augment(_ x: Tensor) throws -> Tensor {
        affineTransform(x, transforms(count: x.shape[0], height: x.shape[1], width: x.shape[2]), fill: fillMode,
                        fillValue: fillValue, interpolation: interpolation)
    }
    /// Keras's reading of a factor: a number f is (−f, f), a pair is (lower, upper).
    static func range(_ value: Any?, _ r: ConfigReader, _ key: String) throws -> (Double, Double)? {
        guard let value else { return nil }
        if let n = value as? NSNumber { return (-Swift.abs(n.doubleValue), Swift.abs(n.doubleValue)) }
        if let list = value as? [NSNumber], list.count == 2 { return (list[0].doubleValue, list[1].doubleValue) }
        throw r.error("'\(key)' must be a number or a pair of numbers")
    }
}
