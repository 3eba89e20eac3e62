import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every file Lamina writes goes through here: the bytes go to a temporary file in the same
/// folder, are flushed to disk (fsync), and the temporary file is renamed over the target.
/// A process killed at any moment leaves either the old file or the new one, never a torn one.
public enum AtomicFile {
    /// Writes `data` to `url` through a synced temporary file renamed over it; throws `LaminaError` (.io) naming the file.
    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw failure("create", temporary) }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; ok = false; return }
                offset += n
            }
        }
        ok = ok && fsync(fd) == 0
        ok = close(fd) == 0 && ok
        guard ok, rename(temporary.path, url.path) == 0 else {
            let error = failure("write", url)
            unlink(temporary.path)
            throw error
        }
        // Make the rename itself durable.
        let dir = open(folder.path, O_RDONLY)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }

    /// Writes `text` as UTF-8, atomically.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    private static func failure(_ action: String, _ url: URL) -> LaminaError {
        LaminaError(.io, "cannot \(action) \(url.path): \(String(cString: strerror(errno)))")
    }
}
