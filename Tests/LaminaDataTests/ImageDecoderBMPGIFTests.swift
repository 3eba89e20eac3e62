import Foundation
import Testing
import LaminaTestSupport
import Lamina
@testable import LaminaData

/// BMP and GIF against Pillow (Fixtures/bmp_gif/, made with what Pillow decodes by
/// Fixtures/generate_bmp_gif.py), pixel for pixel in RGBA, RGB and gray; and fuzzed: random
/// bytes and mutations of every fixture are a thrown `LaminaError` or an image, never a crash.
@Suite struct ImageDecoderBMPGIFTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    struct Expected: Decodable {
        let width: Int, height: Int
        let RGBA: [UInt8], RGB: [UInt8], L: [UInt8]
    }
    static func expected() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: fixtures.appendingPathComponent("bmp_gif_expected.json")))
    }
    static func file(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent("bmp_gif").appendingPathComponent(name)))
    }

    /// 1-, 4- and 8-bit palettes, RLE8 and RLE4 (runs, literals, deltas, a run cut at the row's
    /// end), 5-5-5 and 5-6-5 16-bit, 24-bit bottom-up and top-down, 32-bit BGRX and BGRA bit
    /// fields in a V4 header; GIF plain, interlaced and with a transparent color.
    @Test func decodesAsPillowDoes() throws {
        let all = try Self.expected()
        #expect(all.count == 14)
        for (name, want) in all.sorted(by: { $0.key < $1.key }) {
            let bytes = try Self.file(name)
            #expect(ImageDecoder.format(of: bytes) == (name.hasSuffix(".gif") ? .gif : .bmp))
            let size = try ImageDecoder.size(bytes, name: name)
            #expect(size.height == want.height && size.width == want.width, "\(name)")
            for (channels, pixels) in [(4, want.RGBA), (3, want.RGB), (1, want.L)] {
                let image = try ImageDecoder.decode(bytes, channels: channels, name: name)
                #expect(image.height == want.height && image.width == want.width && image.channels == channels)
                let differing = zip(image.pixels, pixels).filter { $0 != $1 }.count
                #expect(image.pixels.count == pixels.count && differing == 0, "\(name), \(channels) channels: \(differing) values differ")
            }
        }
    }

    /// Damaged files: each a thrown error naming the file.
    @Test func damagedFilesThrow() throws {
        let rgb = try Self.file("rgb24.bmp"), gif = try Self.file("plain.gif")
        for (bytes, why) in [(Array(rgb.prefix(60)), "needs"), (Array(rgb.prefix(20)), "ends early"),
                             (Array(gif.prefix(gif.count - 12)), "GIF"), (Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0, 0x3B], "no image")] {
            let error = #expect(throws: LaminaError.self) { _ = try ImageDecoder.decode(bytes, channels: 3, name: "bad.img") }
            #expect(error?.message.contains("bad.img") == true && error?.message.contains(why) == true, "\(error?.message ?? "no error")")
        }
        var huge = rgb
        huge.replaceSubrange(18..<26, with: [0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F])   // 2^31 × 2^31 pixels
        #expect(throws: LaminaError.self) { _ = try ImageDecoder.decode(huge, channels: 3, name: "huge.bmp") }
    }

    /// Random bytes behind each signature, and 3,000 seeded mutations of the fixtures (bytes
    /// set, flipped, inserted, cut; header fields set to extremes): every one decodes or throws
    /// a LaminaError. (`LAMINA_FUZZ_ROUNDS` runs more; Fuzz/run.sh bmp gif runs libFuzzer.)
    @Test func mutationsNeverCrash() throws {
        let rounds = ProcessInfo.processInfo.environment["LAMINA_FUZZ_ROUNDS"].flatMap(Int.init) ?? 3_000
        let seeds = try Self.expected().keys.sorted().map { try Self.file($0) }
        var generator = RandomGenerator(seed: 23)
        var (decoded, thrown) = (0, 0)
        func attempt(_ bytes: [UInt8]) {
            do {
                let image = try ImageDecoder.decode(bytes, channels: [1, 3, 4][Int.random(in: 0..<3, using: &generator)], name: "fuzz")
                #expect(image.pixels.count == image.width * image.height * image.channels)
                decoded += 1
            } catch is LaminaError {
                thrown += 1
            } catch {
                Issue.record("not a LaminaError: \(error)")
            }
        }
        for round in 0..<rounds {
            var bytes: [UInt8]
            if round % 10 == 0 {
                let head: [UInt8] = round % 20 == 0 ? Array("BM".utf8) : Array("GIF89a".utf8)
                bytes = head + (0..<Int.random(in: 0..<600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = seeds[round % seeds.count]
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    guard !bytes.isEmpty else { break }
                    let at = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<6, using: &generator) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &generator)
                    case 1: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                    case 2: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: at)
                    case 3: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &generator)))
                    case 4: bytes = Array(bytes.prefix(at))
                    default:   // a header field (sizes, offsets, counts) set to an extreme
                        guard bytes.count > 3 else { break }
                        let field = Int.random(in: 2..<min(60, bytes.count), using: &generator)
                        let value: [UInt8] = [[0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0x7F], [0, 0, 0, 0x80], [1, 0, 0, 0]][Int.random(in: 0..<5, using: &generator)]
                        for (k, v) in value.enumerated() where field + k < bytes.count { bytes[field + k] = v }
                    }
                }
            }
            attempt(bytes)
        }
        #expect(decoded + thrown == rounds)
        #expect(decoded > 0 && thrown > 0)
    }
}
