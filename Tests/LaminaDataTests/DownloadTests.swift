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
    final class Server: @unchecked Sendable {
        let port: UInt16
        private let listener: Int32
        private let finished = DispatchSemaphore(value: 0)
        init(body: [UInt8]) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            listener = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            guard bound else { throw LaminaError(.io, "test server: cannot bind") }
            port = UInt16(bigEndian: address.sin_port)
            // The thread closes the socket when accept fails (after stop()), as LoopbackHTTPServer's:
            // closed by stop(), its number could be reused by another test's server and answered here.
            let finished = finished
            let thread = Thread {
                defer { close(fd); finished.signal() }
                while true {
                    let client = accept(fd, nil, nil)
                    if client < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    var request = [UInt8](repeating: 0, count: 4096)
                    let n = read(client, &request, request.count)
                    let path = String(decoding: request.prefix(max(n, 0)), as: UTF8.self).split(separator: " ").dropFirst().first ?? ""
                    func send(_ bytes: [UInt8]) {
                        var offset = 0
                        while offset < bytes.count {
                            let w = bytes[offset...].withUnsafeBytes { write(client, $0.baseAddress!, min($0.count, 1 << 16)) }
                            if w <= 0 { return }
                            offset += w
                        }
                    }
                    switch path {
                    case "/file", "/cut":
                        send(Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8))
                        send(path == "/cut" ? Array(body.prefix(body.count / 2)) : body)
                    case "/slow":
                        usleep(3_000_000)
                    default:
                        send(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
                    }
                    close(client)
                }
            }
            thread.start()
        }
        func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)/\(path)")! }
        func stop() { shutdown(listener, Int32(SHUT_RDWR)); finished.wait() }
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
        let server = try Server(body: body)
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
        let server = try Server(body: body)
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
