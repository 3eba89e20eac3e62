import Foundation
import Lamina

// BMP and GIF, decoded in Swift (Keras's image folders read them through tf.io.decode_image).
// Every size and offset is checked against the file before it is used: a damaged or hostile
// file is a `LaminaError` naming it, never a crash or an unbounded allocation (fuzz-tested).

extension ImageDecoder {
    /// The bytes of a file, read with checks: every read past the end throws.
    struct Reader {
        let bytes: [UInt8], name: String
        func u8(_ at: Int) throws -> Int {
            guard at >= 0, at < bytes.count else { throw LaminaError(.io, "\(name): the file ends early (byte \(at) of \(bytes.count))") }
            return Int(bytes[at])
        }
        func u16(_ at: Int) throws -> Int { let (lo, hi) = (try u8(at), try u8(at + 1)); return lo | hi << 8 }
        func u32(_ at: Int) throws -> Int { let (lo, hi) = (try u16(at), try u16(at + 2)); return lo | hi << 16 }
        func i32(_ at: Int) throws -> Int { Int(Int32(truncatingIfNeeded: try u32(at))) }
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(why)") }
    }

    /// RGBA pixels (4 bytes each) converted to `channels`: gray by ITU-R 601 luma
    /// (299/587/114, rounded as Pillow's `convert("L")`), RGB dropping alpha, or RGBA.
    static func fromRGBA(_ rgba: [UInt8], width: Int, height: Int, channels: Int) -> DecodedImage {
        if channels == 4 { return DecodedImage(height: height, width: width, channels: 4, pixels: rgba) }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * channels)
        for i in 0..<n {
            let (r, g, b) = (Int(rgba[4 * i]), Int(rgba[4 * i + 1]), Int(rgba[4 * i + 2]))
            if channels == 1 {
                out[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            } else {
                (out[3 * i], out[3 * i + 1], out[3 * i + 2]) = (UInt8(r), UInt8(g), UInt8(b))
            }
        }
        return DecodedImage(height: height, width: width, channels: channels, pixels: out)
    }

    // MARK: - BMP

    /// A Windows bitmap: 1-, 4- and 8-bit palettes (uncompressed, RLE4, RLE8), 16-bit (5-5-5 or
    /// bit fields), 24-bit BGR and 32-bit (BGRX, or bit fields with alpha); bottom-up or top-down
    /// rows. Pixels an RLE bitmap skips are palette entry 0, as Pillow leaves them.
    static func decodeBMP(_ bytes: [UInt8], channels: Int, name: String) throws -> DecodedImage {
        let r = Reader(bytes: bytes, name: name)
        let pixelOffset = try r.u32(10), headerSize = try r.u32(14)
        var width: Int, height: Int, bpp: Int, compression = 0, colorsUsed = 0
        var masks: [UInt32]? = nil
        switch headerSize {
        case 12:   // BITMAPCOREHEADER
            (width, height, bpp) = (try r.u16(18), Int(Int16(truncatingIfNeeded: try r.u16(20))), try r.u16(24))
        case 40, 52, 56, 64, 108, 124:
            (width, height, bpp) = (try r.i32(18), try r.i32(22), try r.u16(28))
            (compression, colorsUsed) = (try r.u32(30), try r.u32(46))
            if compression == 3 || compression == 6 {   // BI_BITFIELDS, BI_ALPHABITFIELDS: masks follow a 40-byte header or sit in a larger one
                let alpha = compression == 6 || headerSize >= 56
                masks = try (0..<(alpha ? 4 : 3)).map { UInt32(try r.u32(54 + 4 * $0)) }
            } else if headerSize >= 56 && bpp == 32 {
                let alpha = UInt32(try r.u32(66))
                if alpha != 0 { masks = [0x00FF_0000, 0x0000_FF00, 0x0000_00FF, alpha] }
            }
        default:
            throw r.fail("BMP header of \(headerSize) bytes is not one this reader knows")
        }
        let topDown = height < 0
        height = abs(height)
        try checkSize(width, height, name)
        guard [1, 4, 8, 16, 24, 32].contains(bpp) else { throw r.fail("BMP with \(bpp) bits per pixel is not supported") }
        switch (compression, bpp) {
        case (0, _), (1, 8), (2, 4), (3, 16), (3, 32), (6, 16), (6, 32): break
        default: throw r.fail("BMP compression \(compression) with \(bpp) bits per pixel is not supported")
        }
        // The palette: BGR(A) entries after the headers (and the masks of a 40-byte header).
        var palette: [(UInt8, UInt8, UInt8)] = []
        if bpp <= 8 {
            let entry = headerSize == 12 ? 3 : 4
            let start = 14 + headerSize + (headerSize == 40 && masks != nil ? 4 * masks!.count : 0)
            let count = colorsUsed > 0 ? colorsUsed : 1 << bpp
            guard count <= 1 << bpp else { throw r.fail("BMP palette of \(count) colors for \(bpp) bits per pixel") }
            for i in 0..<count {
                let at = start + i * entry
                palette.append((UInt8(try r.u8(at + 2)), UInt8(try r.u8(at + 1)), UInt8(try r.u8(at))))
            }
        }
        func color(_ index: Int) throws -> (UInt8, UInt8, UInt8) {
            guard index < palette.count else { throw r.fail("BMP palette index \(index) past its \(palette.count) colors") }
            return palette[index]
        }
        let stride = (bpp * width + 31) / 32 * 4
        guard pixelOffset >= 0, pixelOffset <= bytes.count else { throw r.fail("BMP pixel data offset \(pixelOffset) is past the end of the file") }
        if compression == 1 || compression == 2 {
            try checkExpansion(width * height, from: bytes.count - pixelOffset, r)
        } else if stride > (bytes.count - pixelOffset) / height {   // checked before any allocation
            throw r.fail("BMP pixel data needs \(stride) × \(height) bytes from byte \(pixelOffset); the file has \(bytes.count)")
        }
        var rgba = [UInt8](repeating: 255, count: width * height * 4)
        func put(_ x: Int, _ row: Int, _ c: (UInt8, UInt8, UInt8), alpha: UInt8 = 255) {
            let y = topDown ? row : height - 1 - row
            let o = (y * width + x) * 4
            (rgba[o], rgba[o + 1], rgba[o + 2], rgba[o + 3]) = (c.0, c.1, c.2, alpha)
        }
        if compression == 1 || compression == 2 {
            guard !topDown else { throw r.fail("a top-down BMP cannot be RLE-compressed") }
            let zero = try color(0)
            for row in 0..<height { for x in 0..<width { put(x, row, zero) } }
            try decodeRLE(r, from: pixelOffset, fourBit: compression == 2, width: width, height: height) { x, row, index in
                put(x, row, try color(index))
            }
            return fromRGBA(rgba, width: width, height: height, channels: channels)
        }
        // Bit fields: each channel's mask, shift and width; values scaled to 0...255 as Pillow does.
        let fields: [(mask: UInt32, shift: UInt32, bits: UInt32)]? = try masks.map { masks in
            try masks.map { m in
                let shifted = m >> UInt32(m.trailingZeroBitCount)
                guard m == 0 || shifted & (shifted &+ 1) == 0 else { throw r.fail("BMP bit field mask 0x\(String(m, radix: 16)) is not contiguous") }
                return m == 0 ? (0, 0, 0) : (m, UInt32(m.trailingZeroBitCount), UInt32(m.nonzeroBitCount))
            }
        }
        /// A field scaled to 0...255 as Pillow unpacks 5- and 6-bit fields (v × 255 / max, rounded down).
        func scaled(_ v: UInt32, _ f: (mask: UInt32, shift: UInt32, bits: UInt32)) -> UInt8 {
            guard f.mask != 0 else { return 255 }
            let raw = (v & f.mask) >> f.shift
            if f.bits >= 8 { return UInt8(truncatingIfNeeded: raw >> (f.bits - 8)) }
            return UInt8(raw * 255 / ((UInt32(1) << f.bits) - 1))
        }
        for row in 0..<height {
            let base = pixelOffset + row * stride
            for x in 0..<width {
                switch bpp {
                case 1, 4, 8:
                    let bit = x * bpp, byte = Int(bytes[base + bit / 8])
                    let index = (byte >> (8 - bpp - bit % 8)) & ((1 << bpp) - 1)
                    put(x, row, try color(index))
                case 24:
                    let o = base + 3 * x
                    put(x, row, (bytes[o + 2], bytes[o + 1], bytes[o]))
                default:   // 16 or 32
                    let o = base + bpp / 8 * x
                    let v = bpp == 16 ? UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8
                        : UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                    if let fields {
                        put(x, row, (scaled(v, fields[0]), scaled(v, fields[1]), scaled(v, fields[2])),
                            alpha: fields.count > 3 ? scaled(v, fields[3]) : 255)
                    } else if bpp == 16 {   // 5-5-5
                        let f: [(mask: UInt32, shift: UInt32, bits: UInt32)] = [(0x7C00, 10, 5), (0x03E0, 5, 5), (0x001F, 0, 5)]
                        put(x, row, (scaled(v, f[0]), scaled(v, f[1]), scaled(v, f[2])))
                    } else {   // BGRX: the fourth byte is not alpha
                        put(x, row, (bytes[o + 2], bytes[o + 1], bytes[o]))
                    }
                }
            }
        }
        return fromRGBA(rgba, width: width, height: height, channels: channels)
    }

    /// RLE8 / RLE4 runs from `start`: `set(x, row, index)` for each pixel written (rows bottom-up).
    private static func decodeRLE(_ r: Reader, from start: Int, fourBit: Bool, width: Int, height: Int,
                                  _ set: (Int, Int, Int) throws -> Void) throws {
        var (at, x, row) = (start, 0, 0)
        func emit(_ index: Int) throws {
            if x < width && row < height { try set(x, row, index) }
            x += 1
        }
        while row < height {
            let count = try r.u8(at), value = try r.u8(at + 1)
            at += 2
            if count > 0 {   // a run of `count` pixels
                for k in 0..<count { try emit(fourBit ? (k % 2 == 0 ? value >> 4 : value & 15) : value) }
                continue
            }
            switch value {
            case 0: (x, row) = (0, row + 1)            // end of line
            case 1: return                              // end of bitmap
            case 2: x += try r.u8(at); row += try r.u8(at + 1); at += 2   // delta
            default:                                    // `value` pixels given literally, padded to 16 bits
                let n = value, used = fourBit ? (n + 1) / 2 : n
                for k in 0..<n {
                    let byte = try r.u8(at + (fourBit ? k / 2 : k))
                    try emit(fourBit ? (k % 2 == 0 ? byte >> 4 : byte & 15) : byte)
                }
                at += used + used % 2
            }
            guard x <= width + 255 else { throw r.fail("BMP RLE run past the end of its row") }
        }
    }

    /// Compressed pixel data (RLE, LZW) describes at most this many pixels per byte here — real
    /// files stay far below it (RLE8 runs give 127 per byte, a one-color LZW image a few
    /// hundred) — so a damaged header cannot make the decoder allocate and fill a huge image
    /// from a few bytes.
    static let maximumPixelsPerByte = 4096

    static func checkExpansion(_ pixels: Int, from dataBytes: Int, _ r: Reader) throws {
        guard pixels <= maximumPixelsPerByte * max(dataBytes, 1) else {
            throw r.fail("\(pixels) pixels cannot come from \(dataBytes) bytes of compressed data")
        }
    }

    // MARK: - GIF

    /// A GIF's first frame (LZW, global or local palette, interlaced or not) on its logical
    /// screen; the frame's transparent color is alpha 0 (and its palette color without alpha),
    /// screen pixels outside the frame are the background color (alpha 0 when transparent).
    static func decodeGIF(_ bytes: [UInt8], channels: Int, name: String) throws -> DecodedImage {
        let r = Reader(bytes: bytes, name: name)
        let (width, height, flags) = (try r.u16(6), try r.u16(8), try r.u8(10))
        try checkSize(width, height, name)
        var at = 13
        func table(_ flags: Int) throws -> [(UInt8, UInt8, UInt8)] {
            let count = 2 << (flags & 7)
            let colors = try (0..<count).map { i in (UInt8(try r.u8(at + 3 * i)), UInt8(try r.u8(at + 3 * i + 1)), UInt8(try r.u8(at + 3 * i + 2))) }
            at += 3 * count
            return colors
        }
        let global = flags & 0x80 != 0 ? try table(flags) : []
        let background = try r.u8(11)
        var transparent: Int?
        while true {
            switch try r.u8(at) {
            case 0x21:   // an extension: a graphic control block gives the transparent index
                let label = try r.u8(at + 1)
                at += 2
                if label == 0xF9, try r.u8(at) >= 4, try r.u8(at + 1) & 1 == 1 { transparent = try r.u8(at + 4) }
                while true {   // sub-blocks up to an empty one
                    let size = try r.u8(at)
                    at += 1 + size
                    if size == 0 { break }
                }
            case 0x2C:   // the first image
                let (left, top, w, h, local) = (try r.u16(at + 1), try r.u16(at + 3), try r.u16(at + 5), try r.u16(at + 7), try r.u8(at + 9))
                at += 10
                let palette = local & 0x80 != 0 ? try table(local) : global
                guard !palette.isEmpty else { throw r.fail("GIF frame has no color table") }
                try checkSize(w, h, name)
                let minimum = try r.u8(at)
                at += 1
                var data: [UInt8] = []
                while true {
                    let size = try r.u8(at)
                    guard at + 1 + size <= bytes.count else { throw r.fail("the file ends inside the GIF image data") }
                    data += bytes[(at + 1)..<(at + 1 + size)]
                    at += 1 + size
                    if size == 0 { break }
                }
                try checkExpansion(width * height, from: data.count, r)
                try checkExpansion(w * h, from: data.count, r)
                let indices = try lzw(data, minimumCodeSize: minimum, count: w * h, r)
                var rgba = [UInt8](repeating: 0, count: width * height * 4)
                let fill: (UInt8, UInt8, UInt8, UInt8) = transparent != nil ? (0, 0, 0, 0)
                    : background < palette.count ? (palette[background].0, palette[background].1, palette[background].2, 255) : (0, 0, 0, 255)
                for i in 0..<(width * height) { (rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2], rgba[4 * i + 3]) = fill }
                // Interlaced rows come in four passes: every 8th from 0, every 8th from 4, every 4th from 2, every 2nd from 1.
                let rows = local & 0x40 == 0 ? Array(0..<h)
                    : Array(stride(from: 0, to: h, by: 8)) + Array(stride(from: 4, to: h, by: 8)) + Array(stride(from: 2, to: h, by: 4)) + Array(stride(from: 1, to: h, by: 2))
                for (k, y) in rows.enumerated() where top + y < height {
                    for x in 0..<w where left + x < width {
                        let index = Int(indices[k * w + x])
                        guard index < palette.count else { throw r.fail("GIF color index \(index) past its \(palette.count) colors") }
                        let c = palette[index], o = ((top + y) * width + left + x) * 4
                        (rgba[o], rgba[o + 1], rgba[o + 2], rgba[o + 3]) = (c.0, c.1, c.2, index == transparent ? 0 : 255)
                    }
                }
                return fromRGBA(rgba, width: width, height: height, channels: channels)
            case 0x3B: throw r.fail("GIF has no image")
            case let block: throw r.fail("GIF block 0x\(String(block, radix: 16)) at byte \(at) is not one this reader knows")
            }
        }
    }

    /// GIF's variable-width LZW: `count` color indices from `data` (an error if fewer arrive).
    private static func lzw(_ data: [UInt8], minimumCodeSize: Int, count: Int, _ r: Reader) throws -> [UInt8] {
        guard (2...8).contains(minimumCodeSize) else { throw r.fail("GIF LZW code size \(minimumCodeSize) is out of 2...8") }
        let clear = 1 << minimumCodeSize, end = clear + 1
        // The dictionary as prefix code + last byte (and each entry's first byte and length).
        var prefix = [Int](repeating: -1, count: 4096), suffix = [UInt8](repeating: 0, count: 4096)
        var first = [UInt8](repeating: 0, count: 4096), length = [Int](repeating: 1, count: 4096)
        for i in 0..<clear { (suffix[i], first[i]) = (UInt8(i), UInt8(i)) }
        var out = [UInt8]()
        out.reserveCapacity(count)
        var (size, next, previous) = (minimumCodeSize + 1, clear + 2, -1)
        var (bits, buffer, position) = (0, 0, 0)
        var entry = [UInt8](repeating: 0, count: 4096)
        while out.count < count {
            while bits < size {
                guard position < data.count else { throw r.fail("GIF image data ends after \(out.count) of \(count) pixels") }
                buffer |= Int(data[position]) << bits
                position += 1
                bits += 8
            }
            let code = buffer & ((1 << size) - 1)
            buffer >>= size
            bits -= size
            if code == clear { (size, next, previous) = (minimumCodeSize + 1, clear + 2, -1); continue }
            if code == end { break }
            guard code <= next, code != next || previous >= 0, code < 4096 else { throw r.fail("GIF LZW code \(code) is not in the table") }
            // The string of `code` (for the code not yet in the table: previous + its first byte).
            let known = code < next
            let c = known ? code : previous
            var n = length[c], k = c
            for i in stride(from: n - 1, through: 0, by: -1) { entry[i] = suffix[k]; k = prefix[k] }
            if !known { entry[n] = first[previous]; n += 1 }
            out.append(contentsOf: entry[0..<min(n, count - out.count)])
            if previous >= 0 && next < 4096 {
                (prefix[next], suffix[next], first[next], length[next]) = (previous, entry[0], first[previous], length[previous] + 1)
                next += 1
                if next == 1 << size && size < 12 { size += 1 }
            }
            previous = code
        }
        guard out.count == count else { throw r.fail("GIF image data ends after \(out.count) of \(count) pixels") }
        return out
    }
}
