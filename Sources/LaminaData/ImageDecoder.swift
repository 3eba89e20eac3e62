import CLaminaPNG
import CLaminaTurboJPEG
import Foundation
import Lamina

/// A decoded image: `height × width × channels` bytes, row-major (HWC).
public struct DecodedImage: Sendable {
    /// The image's size and its channels (1, 3 or 4).
    public let height: Int, width: Int, channels: Int
    /// `height × width × channels` bytes, row-major, channels last.
    public let pixels: [UInt8]
}

/// PNG (libpng's simplified API), JPEG (libjpeg-turbo's TurboJPEG API), BMP and GIF (first frame;
/// in Swift, ImageDecoder+BMPGIF.swift) decoding to 1, 3 or 4 channels. Neither library reports errors by `longjmp` through these APIs, so a damaged or
/// hostile file is a `LaminaError` naming it, never a crash; sizes are checked before any
/// allocation (both decoders are fuzz targets).
public enum ImageDecoder {
    /// The most pixels one image may have (2^28: 16384 × 16384).
    public static let maximumPixels = 1 << 28

    /// The file formats decoded.
    public enum Format: Sendable { case png, jpeg, bmp, gif }

    /// The format named by the file's first bytes, nil if neither.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 2, bytes[0] == 0x42, bytes[1] == 0x4D { return .bmp }   // "BM"
        if bytes.count >= 6, bytes[0..<6].elementsEqual(Array("GIF87a".utf8)) || bytes[0..<6].elementsEqual(Array("GIF89a".utf8)) { return .gif }
        return nil
    }

    /// Decodes `bytes` (a PNG, JPEG, BMP or GIF file) to `channels` (1 gray, 3 RGB, 4 RGBA).
    public static func decode(_ bytes: [UInt8], channels: Int = 3, name: String = "image") throws -> DecodedImage {
        guard [1, 3, 4].contains(channels) else { throw LaminaError(.value, "\(name): channels must be 1, 3 or 4, got \(channels)") }
        switch format(of: bytes) {
        case .png: return try decodePNG(bytes, channels: channels, name: name)
        case .jpeg: return try decodeJPEG(bytes, channels: channels, name: name)
        case .bmp: return try decodeBMP(bytes, channels: channels, name: name)
        case .gif: return try decodeGIF(bytes, channels: channels, name: name)
        case nil: throw LaminaError(.io, "\(name) is not a PNG, JPEG, BMP or GIF image")
        }
    }

    /// Width and height from the header alone (a cheap validity check).
    public static func size(_ bytes: [UInt8], name: String = "image") throws -> (height: Int, width: Int) {
        switch format(of: bytes) {
        case .png: return try withPNG(bytes, name) { image in (Int(image.height), Int(image.width)) }
        case .jpeg: return try withJPEG(bytes, name) { _, width, height in (height, width) }
        case .bmp:
            let r = Reader(bytes: bytes, name: name)
            let core = try r.u32(14) == 12
            let (width, height) = core ? (try r.u16(18), abs(Int(Int16(truncatingIfNeeded: try r.u16(20))))) : (try r.i32(18), abs(try r.i32(22)))
            try checkSize(width, height, name)
            return (height, width)
        case .gif:
            let r = Reader(bytes: bytes, name: name)
            let (width, height) = (try r.u16(6), try r.u16(8))
            try checkSize(width, height, name)
            return (height, width)
        case nil: throw LaminaError(.io, "\(name) is not a PNG, JPEG, BMP or GIF image")
        }
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    static func checkSize(_ width: Int, _ height: Int, _ name: String) throws {
        guard width > 0, height > 0, width <= maximumPixels / height else {
            throw LaminaError(.io, "\(name): image size \(width)×\(height) is empty or too large")
        }
    }

    /// Reads a PNG's header into a `png_image` for `body` (freed afterwards).
    private static func withPNG<R>(_ bytes: [UInt8], _ name: String, _ body: (inout png_image) throws -> R) throws -> R {
        var image = png_image()
        lamina_png_clear(&image)
        defer { png_image_free(&image) }
        guard bytes.withUnsafeBytes({ png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }) != 0 else {
            throw LaminaError(.io, "\(name): not a readable PNG (\(message(&image)))")
        }
        return try body(&image)
    }

    /// Reads a JPEG's header with a TurboJPEG handle for `body` (destroyed afterwards).
    private static func withJPEG<R>(_ bytes: [UInt8], _ name: String,
                                    _ body: (tjhandle, _ width: Int, _ height: Int) throws -> R) throws -> R {
        guard let handle = tjInitDecompress() else { throw LaminaError(.io, "\(name): cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        var (w, h, sub, space): (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        guard bytes.withUnsafeBufferPointer({ tjDecompressHeader3(handle, $0.baseAddress, UInt(bytes.count), &w, &h, &sub, &space) }) == 0 else {
            throw LaminaError(.io, "\(name): not a readable JPEG (\(String(cString: tjGetErrorStr2(handle))))")
        }
        return try body(handle, Int(w), Int(h))
    }

    private static func decodePNG(_ bytes: [UInt8], channels: Int, name: String) throws -> DecodedImage {
        try withPNG(bytes, name) { image in
            let (width, height) = (Int(image.width), Int(image.height))
            try checkSize(width, height, name)
            // Read as RGBA, then drop alpha or convert to gray as TensorFlow's decode_png does
            // (libpng's own conversions composite alpha and gray in linear light, which TF does not).
            image.format = lamina_png_format(4)
            var rgba = [UInt8](repeating: 0, count: width * height * 4)
            let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw LaminaError(.io, "\(name): damaged PNG (\(message(&image)))") }
            let n = width * height
            let pixels: [UInt8]
            switch channels {
            case 4: pixels = rgba
            case 3: pixels = (0..<(n * 3)).map { rgba[($0 / 3) * 4 + $0 % 3] }
            default:   // libpng's png_set_rgb_to_gray weights (Rec. 709, 15-bit fixed point), as TF
                pixels = (0..<n).map { i in
                    let (r, g, b) = (UInt32(rgba[4 * i]), UInt32(rgba[4 * i + 1]), UInt32(rgba[4 * i + 2]))
                    return UInt8((6968 * r + 23434 * g + 2366 * b + 16384) >> 15)
                }
            }
            return DecodedImage(height: height, width: width, channels: channels, pixels: pixels)
        }
    }

    private static func decodeJPEG(_ bytes: [UInt8], channels: Int, name: String) throws -> DecodedImage {
        try withJPEG(bytes, name) { handle, width, height in
            try checkSize(width, height, name)
            let format: TJPF = channels == 1 ? TJPF_GRAY : channels == 4 ? TJPF_RGBA : TJPF_RGB
            var pixels = [UInt8](repeating: 0, count: width * height * channels)
            let status = bytes.withUnsafeBufferPointer { src in
                pixels.withUnsafeMutableBufferPointer { dst in
                    // TensorFlow's decode_jpeg default: the fast integer DCT, fancy upsampling.
                    tjDecompress2(handle, src.baseAddress, UInt(bytes.count), dst.baseAddress, Int32(width), 0, Int32(height),
                                  format.rawValue, TJFLAG_FASTDCT)
                }
            }
            // A warning (a truncated but decodable stream) is reported as an error too: the file is damaged.
            guard status == 0 else { throw LaminaError(.io, "\(name): damaged JPEG (\(String(cString: tjGetErrorStr2(handle))))") }
            return DecodedImage(height: height, width: width, channels: channels, pixels: pixels)
        }
    }
}

extension DecodedImage {
    /// The image resized to `height × width` with bilinear sampling at half-pixel centres
    /// (TensorFlow's `tf.image.resize(..., "bilinear", antialias=False)`, which Keras uses),
    /// as float32 values in 0…255.
    public func resized(height outH: Int, width outW: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: outH * outW * channels) { buffer, count in
            resize(into: buffer.baseAddress!, height: outH, width: outW)
            count = outH * outW * channels
        }
    }

    /// Writes `resized(height:width:)` to `out` (`outH × outW × channels` floats): each source
    /// row is interpolated across once (per-column offsets and weights computed once per image),
    /// then each output row is the blend of its two interpolated source rows — the same
    /// arithmetic, in the same order, as interpolating every output pixel on its own.
    func resize(into out: UnsafeMutablePointer<Float>, height outH: Int, width outW: Int) {
        let c = channels, rowLen = outW * c
        guard outH > 0, rowLen > 0 else { return }
        let (scaleY, scaleX) = (Float(height) / Float(outH), Float(width) / Float(outW))
        // Each output column's two source columns (as element offsets) and weight.
        var left = [Int](repeating: 0, count: outW), right = [Int](repeating: 0, count: outW)
        var weight = [Float](repeating: 0, count: outW)
        for ox in 0..<outW {
            let x = max((Float(ox) + 0.5) * scaleX - 0.5, 0)
            let x0 = min(Int(x), width - 1), x1 = min(x0 + 1, width - 1)
            (left[ox], right[ox], weight[ox]) = (x0 * c, x1 * c, x - Float(x0))
        }
        // Two interpolated source rows, and which source rows they hold.
        var rows = [Float](repeating: 0, count: 2 * rowLen)
        var held = (-1, -1)
        pixels.withUnsafeBufferPointer { src in
            left.withUnsafeBufferPointer { left in
                right.withUnsafeBufferPointer { right in
                    weight.withUnsafeBufferPointer { weight in
                        rows.withUnsafeMutableBufferPointer { rows in
                            let src = src.baseAddress!, slots = rows.baseAddress!
                            /// Interpolates source row `y` across into slot `slot`.
                            func across(_ y: Int, _ slot: Int) {
                                let row = src + y * width * c, d = slots + slot * rowLen
                                if c == 3 {
                                    for ox in 0..<outW {
                                        let (p, q, fx, o) = (row + left[ox], row + right[ox], weight[ox], 3 * ox)
                                        let (a0, b0) = (Float(p[0]), Float(q[0]))
                                        let (a1, b1) = (Float(p[1]), Float(q[1]))
                                        let (a2, b2) = (Float(p[2]), Float(q[2]))
                                        d[o] = a0 + (b0 - a0) * fx
                                        d[o + 1] = a1 + (b1 - a1) * fx
                                        d[o + 2] = a2 + (b2 - a2) * fx
                                    }
                                } else {
                                    for ox in 0..<outW {
                                        let (p, q, fx, o) = (row + left[ox], row + right[ox], weight[ox], c * ox)
                                        for ch in 0..<c {
                                            let (a, b) = (Float(p[ch]), Float(q[ch]))
                                            d[o + ch] = a + (b - a) * fx
                                        }
                                    }
                                }
                            }
                            /// The slot holding source row `y` (interpolated now if neither does), not `avoid`.
                            func slot(for y: Int, avoid: Int) -> Int {
                                if held.0 == y { return 0 }
                                if held.1 == y { return 1 }
                                let s = avoid == 0 ? 1 : 0
                                across(y, s)
                                if s == 0 { held.0 = y } else { held.1 = y }
                                return s
                            }
                            for oy in 0..<outH {
                                let y = max((Float(oy) + 0.5) * scaleY - 0.5, 0)
                                let y0 = min(Int(y), height - 1), y1 = min(y0 + 1, height - 1), fy = y - Float(y0)
                                let s0 = slot(for: y0, avoid: held.0 == y1 ? 0 : held.1 == y1 ? 1 : -1)
                                let s1 = slot(for: y1, avoid: s0)
                                let (top, bottom, d) = (slots + s0 * rowLen, slots + s1 * rowLen, out + oy * rowLen)
                                for i in 0..<rowLen { d[i] = top[i] + (bottom[i] - top[i]) * fy }
                            }
                        }
                    }
                }
            }
        }
    }
}
