import Lamina
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a `keras.datasets`-like loader finds its files, and how it downloads missing ones:
/// the folder the user passed, then `$LAMINA_DATA` (and `$LAMINA_DATA/<folder>`), then Keras's
/// own cache `~/.keras/datasets` (so files Keras already downloaded are reused), and last
/// `~/.cache/lamina/<folder>`, where downloads go — streamed to disk under a temporary name with
/// a progress bar, checked, then renamed.
struct DatasetStore: Sendable {
    enum Checksum: Sendable {
        case sha256OfContents(String)   // of the decompressed .gz
        case md5OfArchive(String)       // of the file (archive or not) as downloaded
        case sha256OfFile(String)       // of the file as downloaded (Keras's `file_hash`)
    }

    let name: String, folder: String
    let mirrors: [String]
    var usesKerasCache = false

    func searchDirectories(explicit: String?) -> [URL] {
        var result = [URL]()
        if let explicit { result.append(URL(fileURLWithPath: (explicit as NSString).expandingTildeInPath)) }
        if let env = ProcessInfo.processInfo.environment["LAMINA_DATA"], !env.isEmpty {
            let root = URL(fileURLWithPath: env)
            result += [root, root.appendingPathComponent(folder)]
        }
        let home = FileManager.default.homeDirectoryForCurrentUser
        if usesKerasCache { result.append(home.appendingPathComponent(".keras/datasets")) }
        result.append(home.appendingPathComponent(".cache/lamina/\(folder)"))
        return result
    }

    func missing(looked: [URL], wanted: String, note: String) -> LaminaError {
        LaminaError(.io, """
            \(name) files not found (\(note)). Looked in:
            \(looked.map { "  " + $0.path }.joined(separator: "\n"))
            Put \(wanted) in one of them (pass the folder, or set LAMINA_DATA)\
            \(mirrors.first.map { ", e.g. from \($0)" } ?? "")
            """)
    }

    /// A one-file dataset's file: the first of the search directories that holds it, else
    /// downloaded (and checked) into the cache.
    func file(_ name: String, checksum: Checksum, directory: String?, download: Bool, mirrors: [String]) throws -> URL {
        let candidates = searchDirectories(explicit: directory)
        if let found = candidates.map({ $0.appendingPathComponent(name) }).first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
            return found
        }
        guard download, let cache = candidates.last else {
            throw missing(looked: candidates, wanted: name, note: "downloading is switched off")
        }
        return try fetch(name, checksum: checksum, into: cache, mirrors: mirrors, looked: candidates, wanted: name)
    }

    /// Downloads `file` from the first mirror that serves it with the right checksum into
    /// `cache`, and returns where it now is.
    @discardableResult
    func fetch(_ file: String, checksum: Checksum, into cache: URL, mirrors: [String],
               looked: [URL], wanted: String) throws -> URL {
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        var failures = [String]()
        for mirror in mirrors {
            let source = mirror.hasSuffix("/") ? mirror : mirror + "/"
            guard let url = URL(string: source + file) else { continue }
            Lamina.logger.notice("Downloading \(url.absoluteString)")
            // Streamed to a hidden file beside the final one (with a progress bar), checked, then
            // renamed into place: an interrupted or wrong download never takes the file's name.
            // (The check reads the file back whole: the digests here are not incremental.)
            let unverified = cache.appendingPathComponent(".\(file).\(UUID().uuidString.prefix(8)).unverified")
            defer { try? FileManager.default.removeItem(at: unverified) }
            do {
                try HTTP.download(url, to: unverified, timeout: 3600, idleTimeout: 600, verbose: 1)
                let bytes = [UInt8](try Data(contentsOf: unverified, options: .alwaysMapped))
                if let problem = try Self.verify(bytes, checksum, what: url.absoluteString) {
                    failures.append("\(url.absoluteString): \(problem)")
                    continue
                }
                let destination = cache.appendingPathComponent(file)
                guard rename(unverified.path, destination.path) == 0 else {
                    throw LaminaError(.io, "\(destination.path): cannot move the download into place (\(String(cString: strerror(errno))))")
                }
                return destination
            } catch {
                failures.append("\(url.absoluteString): \(error)")
            }
        }
        throw missing(looked: looked, wanted: wanted,
                      note: "download failed:\n" + failures.map { "  " + $0 }.joined(separator: "\n"))
    }

    /// nil when `bytes` match, else what was found instead.
    static func verify(_ bytes: [UInt8], _ checksum: Checksum, what: String) throws -> String? {
        switch checksum {
        case .sha256OfContents(let expected):
            let digest = SHA256.hex(try Zlib.inflate(bytes, limit: NumPy.maximumBytes, what: what))
            return digest == expected ? nil : "SHA-256 \(digest) is not the expected \(expected)"
        case .md5OfArchive(let expected):
            let digest = MD5.hex(bytes)
            return digest == expected ? nil : "MD5 \(digest) is not the expected \(expected)"
        case .sha256OfFile(let expected):
            let digest = SHA256.hex(bytes)
            return digest == expected ? nil : "SHA-256 \(digest) is not the expected \(expected)"
        }
    }
}
