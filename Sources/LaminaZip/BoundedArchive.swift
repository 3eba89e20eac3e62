import Foundation
import Lamina
import ZIPFoundation

/// Zip archives opened for reading with ZIPFoundation from their file (its in-memory
/// `Archive(data:)` leaks its buffer when a damaged archive fails to open), with every entry
/// inflated under a size bound: `.npz` arrays (LaminaData) and `.keras` files (LaminaKeras).
package enum BoundedArchive {
    /// The archive in `url`; `what` names the kind of file in the error (".npz", ".keras").
    package static func open(_ url: URL, what: String) throws -> Archive {
        do {
            return try Archive(url: url, accessMode: .read)
        } catch {
            throw LaminaError(.io, "\(url.lastPathComponent) is not a readable \(what) (zip) archive (\(error))")
        }
    }

    /// The bytes of `entry`, CRC-32 checked, refused when its header claims or its data
    /// inflates to more than `limit` bytes. `name` appears in errors.
    package static func contents(of entry: Entry, in archive: Archive, limit: Int, name: String) throws -> [UInt8] {
        guard entry.type == .file, entry.uncompressedSize <= UInt64(limit) else {
            throw LaminaError(.io, "\(name) is not a file of at most \(limit) bytes")
        }
        var bytes = [UInt8]()
        // The header's size is only a claim: reserve at most 64 MiB on its word and grow past
        // that as data really arrives (a 598-byte file once asked for 4 GiB).
        bytes.reserveCapacity(Int(min(entry.uncompressedSize, 1 << 26)))
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard bytes.count + chunk.count <= limit else { throw LaminaError(.io, "\(name) inflates past \(limit) bytes") }
                bytes.append(contentsOf: chunk)
            }
        } catch let error as LaminaError {
            throw error
        } catch {
            throw LaminaError(.io, "\(name) cannot be extracted (\(error))")
        }
        return bytes
    }
}
