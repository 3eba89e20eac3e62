import Lamina
import Foundation

/// A PNG encoder for 8-bit grayscale, RGB or RGBA images (filter 0, zlib-compressed).
public enum PNG {
    /// The bytes of a PNG file. `pixels` is row-major, `channels` values per pixel (1, 3 or 4).
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(width > 0 && height > 0 && [1, 3, 4].contains(channels), "PNG: bad size \(width)x\(height)x\(channels)")
        precondition(pixels.count == width * height * channels,
                     "PNG: \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * channels))
        for row in 0..<height {
            raw.append(0)  // filter type: none
            raw += pixels[(row * width * channels)..<((row + 1) * width * channels)]
        }
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let colorType: UInt8 = channels == 1 ? 0 : channels == 3 ? 2 : 6
        chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colorType, 0, 0, 0], into: &file)
        chunk("IDAT", Zlib.deflate(raw), into: &file)
        chunk("IEND", [], into: &file)
        return file
    }

    /// Writes 8-bit pixels (row-major, 1, 3 or 4 channels) as a PNG file, atomically.
    public static func write(to url: URL, width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        try AtomicFile.write(Data(encode(width: width, height: height, channels: channels, pixels: pixels)), to: url)
    }

    private static func chunk(_ type: String, _ body: [UInt8], into file: inout [UInt8]) {
        let typed = Array(type.utf8) + body
        file += bigEndian(UInt32(body.count)) + typed + bigEndian(Zlib.crc32(typed))
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
}

/// Tiles a batch of images into one picture, as people look at MNIST digits and GAN samples.
///
/// ```swift
/// try ImageGrid.save(generated, to: URL(fileURLWithPath: "epoch_5.png"), columns: 8, range: -1...1)
/// ```
public enum ImageGrid {
    /// `images` is [N, H, W] or [N, H, W, C] with C = 1 or 3; values in `range` map to 0...255.
    /// Returns an 8-bit image (grayscale or RGB) with `padding` pixels between tiles and
    /// each tile enlarged `scale` times.
    public static func render(_ images: Tensor, columns: Int = 8, padding: Int = 2, scale: Int = 1,
                              range: ClosedRange<Float> = 0...255) -> (width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(images.rank == 3 || (images.rank == 4 && [1, 3].contains(images.shape[3])),
                     "ImageGrid: expected [N, H, W] or [N, H, W, 1|3], got \(images.shape)")
        precondition(images.shape[0] > 0 && columns > 0 && scale > 0, "ImageGrid: empty batch or bad layout")
        let n = images.shape[0], h = images.shape[1], w = images.shape[2]
        let c = images.rank == 4 ? images.shape[3] : 1
        let cols = min(columns, n), rows = (n + cols - 1) / cols
        let tileH = h * scale, tileW = w * scale
        let width = cols * tileW + (cols + 1) * padding, height = rows * tileH + (rows + 1) * padding
        var pixels = [UInt8](repeating: 32, count: width * height * c)  // dark grey background
        let values = images.cast(to: .float32).asArray(Float.self)
        let span = max(range.upperBound - range.lowerBound, .leastNonzeroMagnitude)
        for i in 0..<n {
            let top = padding + (i / cols) * (tileH + padding), left = padding + (i % cols) * (tileW + padding)
            for y in 0..<tileH {
                for x in 0..<tileW {
                    for ch in 0..<c {
                        let v = values[((i * h + y / scale) * w + x / scale) * c + ch]
                        let t = v.isFinite ? min(max((v - range.lowerBound) / span, 0), 1) : 0
                        pixels[((top + y) * width + left + x) * c + ch] = UInt8((t * 255).rounded())
                    }
                }
            }
        }
        return (width, height, c, pixels)
    }

    /// Writes a batch of images `[n, height, width, channels]` as one PNG grid of `columns` tiles,
    /// each pixel `scale` times larger, values mapped from `range` to 0–255.
    public static func save(_ images: Tensor, to url: URL, columns: Int = 8, padding: Int = 2, scale: Int = 2,
                            range: ClosedRange<Float> = 0...255) throws {
        let grid = render(images, columns: columns, padding: padding, scale: scale, range: range)
        try PNG.write(to: url, width: grid.width, height: grid.height, channels: grid.channels, pixels: grid.pixels)
    }
}
