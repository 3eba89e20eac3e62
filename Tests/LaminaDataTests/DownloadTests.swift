import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData
#if canImport(Glibc)
import Glibc
#endif

/// `HTTP.download`: the body streamed to a file beside the destination and renamed into place
/// when complete, against a server on 127.0.0.1 in the test (no outside network).
@Suite struct DownloadTests {
    /// Serves `/file` as `body` in 64 KB writes, `/cut` announcing `body.count` bytes but closing
    /// after half of them, `/slow` never answering; anything else is a 404.
    static func server(body: [UInt8]) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { path, send in
            switch path {
            case "/file", "/cut":
                send(LoopbackHTTPServer.head("200 OK", contentLength: body.count))
                send(path == "/cut" ? Array(body.prefix(body.count / 2)) : body)
            case "/slow":
                usleep(3_000_000)
            default:
                send(LoopbackHTTPServer.head("404 Not Found", contentLength: 0))
            }
        }
    }

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The file arrives whole (3 MB, many chunks), its bytes counted; a failed download — a
    /// 404, a body cut short, a server that does not answer in time — throws, leaves the file
    /// that was there untouched and no partial file behind.
    @Test func streamsToDiskAndRenamesWhenComplete() throws {
        var generator = RandomGenerator(seed: 1)
        let body = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let server = try Self.server(body: body)
        defer { server.stop() }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let destination = dir.appendingPathComponent("data.bin")
        let received = try HTTP.download(server.url("file"), to: destination, timeout: 60, verbose: 0)
        #expect(received == body.count)
        #expect(try [UInt8](Data(contentsOf: destination)) == body)
        let before = try Data(contentsOf: destination)
        for (path, why) in [("missing", "HTTP status 404"), ("cut", "1572864")] {
            let error = #expect(throws: LaminaError.self) { try HTTP.download(server.url(path), to: destination, timeout: 60, verbose: 0) }
            #expect(error?.message.contains(why) == true, "\(error?.message ?? "no error")")
        }
        let slow = #expect(throws: LaminaError.self) { try HTTP.download(server.url("slow"), to: destination, timeout: 1, verbose: 0) }
        #expect(slow?.message.contains("timed out") == true, "\(slow?.message ?? "no error")")
        #expect(try Data(contentsOf: destination) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["data.bin"])
    }

    /// A dataset download through the store: streamed, checked, kept under its name; a mirror
    /// serving other bytes is refused and nothing is kept.
    @Test func storeKeepsOnlyCheckedDownloads() throws {
        let body = Array("lamina download test\n".utf8)
        let server = try Self.server(body: body)
        defer { server.stop() }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = DatasetStore(name: "Test", folder: "test", mirrors: [])
        let good = try store.fetch("file", checksum: .sha256OfFile(SHA256.hex(body)), into: dir, mirrors: [server.url("").absoluteString],
                                   looked: [dir], wanted: "file")
        let kept = try [UInt8](Data(contentsOf: good))
        #expect(good.lastPathComponent == "file" && kept == body)
        try FileManager.default.removeItem(at: good)
        let bad = #expect(throws: LaminaError.self) {
            try store.fetch("file", checksum: .sha256OfFile(String(repeating: "0", count: 64)), into: dir, mirrors: [server.url("").absoluteString],
                            looked: [dir], wanted: "file")
        }
        #expect(bad?.message.contains("is not the expected") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }
}
