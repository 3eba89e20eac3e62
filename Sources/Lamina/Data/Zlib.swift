import CLaminaZlib
import Foundation

/// zlib (Debian's `zlib1g`) for gzip files, deflated `.npz` entries and PNG image data.
/// Every decoder takes a limit on the bytes it may produce, so a hostile file cannot make
/// it allocate without bound.
package enum Zlib {
    package enum Format {
        case gzipOrZlib  // header detected by zlib (windowBits 15 + 32)
        case raw         // bare deflate stream, as inside zip archives (windowBits -15)
        var windowBits: Int32 { self == .raw ? -15 : 15 + 32 }
    }

    /// Inflates `input` completely. Throws when the stream is corrupt or truncated, or would
    /// produce more than `limit` bytes.
    package static func inflate(_ input: [UInt8], format: Format = .gzipOrZlib, limit: Int,
                        what: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, format.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw LaminaError(.io, "\(what): zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(min(limit, max(input.count * 4, 1 << 16)))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    status = CLaminaZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = outBuf.count - Int(stream.avail_out)
                    guard output.count + produced <= limit else {
                        throw LaminaError(.io, "\(what): decompresses to more than \(limit) bytes")
                    }
                    output.append(contentsOf: outBuf[0..<produced])
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 { break }  // input ended early
            } while status == Z_OK
        }
        switch status {
        case Z_STREAM_END: return output
        case Z_BUF_ERROR: throw LaminaError(.io, "\(what): compressed data is truncated")
        default:
            let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw LaminaError(.io, "\(what): corrupt compressed data (\(reason))")
        }
    }

    /// zlib-format deflate (as PNG's IDAT chunks need).
    package static func deflate(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var size = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(size))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { inp in
                compress2(out.baseAddress, &size, inp.baseAddress, uLong(inp.count), level)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")
        return Array(output[0..<Int(size)])
    }

    package static func crc32<C: Collection<UInt8>>(_ bytes: C, initial: UInt = 0) -> UInt32 {
        let value = Array(bytes).withUnsafeBufferPointer {
            CLaminaZlib.crc32(uLong(initial), $0.baseAddress, uInt($0.count))
        }
        return UInt32(truncatingIfNeeded: value)
    }
}

/// Reads a whole file into memory, with the path in the error when it cannot.
package func readFileBytes(_ url: URL) throws -> [UInt8] {
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw LaminaError(.io, "cannot read \(url.path): \(error.localizedDescription)")
    }
}
