import Foundation
@testable import Lamina
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP file server on 127.0.0.1 (an ephemeral port) for download tests, one request
/// at a time: `init(root:)` serves GET /name from `root/name` (anything else is a 404);
/// `init(respond:)` lets a test answer each path as it likes (a body cut short, no answer).
final class LoopbackHTTPServer: @unchecked Sendable {
    /// Answers one request for `path` ("/name"; "" when the request is not a GET) by handing
    /// bytes to `send`, which writes them to the client in pieces of at most 64 KB.
    typealias Respond = @Sendable (_ path: String, _ send: ([UInt8]) -> Void) -> Void

    let port: UInt16
    private let socketFD: Int32
    /// Signalled by the serving thread once it has closed the listening socket.
    private let finished = DispatchSemaphore(value: 0)

    init(respond: @escaping Respond) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        socketFD = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw LaminaError(.io, "loopback server: cannot bind") }
        port = UInt16(bigEndian: address.sin_port)
        let finished = finished
        // The serving thread closes the socket itself when accept fails: were stop() to close
        // it, the descriptor's number could go to the next test's server while this thread is
        // between two accepts, and this thread would then answer that server's requests (404s
        // for files that are there, when tests run in parallel).
        Thread {
            LoopbackHTTPServer.serve(fd, respond)
            close(fd)
            finished.signal()
        }.start()
    }

    /// Serves the files of `root`.
    convenience init(root: URL) throws {
        try self.init { path, send in
            if !path.isEmpty, !path.contains(".."), let data = try? Data(contentsOf: root.appendingPathComponent(String(path.dropFirst()))) {
                send(Self.head("200 OK", contentLength: data.count) + [UInt8](data))
            } else {
                send(Self.head("404 Not Found", contentLength: 0))
            }
        }
    }

    /// A response's status line and headers (the connection closes after each response).
    static func head(_ status: String, contentLength: Int) -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Length: \(contentLength)\r\nConnection: close\r\n\r\n".utf8)
    }

    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)/\(path)")! }

    /// Stops accepting (a blocked accept fails) and waits until the serving thread is done.
    func stop() {
        shutdown(socketFD, Int32(SHUT_RDWR))
        finished.wait()
    }

    private static func serve(_ listener: Int32, _ respond: Respond) {
        while true {
            // A signal (Foundation's Process handles SIGCHLD while other tests run subprocesses)
            // interrupts a blocking call with EINTR: try it again rather than drop the request.
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            // The request line may arrive over several reads (a loaded machine splits it): read
            // until its end, or until the client stops sending.
            var request: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
            while !request.contains(UInt8(ascii: "\n")) && request.count < 4096 {
                let n = read(client, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                request += buffer.prefix(n)
            }
            let line = String(decoding: request, as: UTF8.self).split(separator: " ")
            let path = line.count > 1 && line[0] == "GET" ? String(line[1]) : ""
            respond(path) { bytes in
                var offset = 0
                while offset < bytes.count {
                    let w = bytes[offset...].withUnsafeBytes { write(client, $0.baseAddress!, Swift.min($0.count, 1 << 16)) }
                    if w < 0 && errno == EINTR { continue }
                    if w <= 0 { return }
                    offset += w
                }
            }
            close(client)
        }
    }
}
