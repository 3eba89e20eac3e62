import Foundation
@testable import Lamina
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.0 file server on 127.0.0.1 (an ephemeral port) for download tests:
/// GET /name serves `root/name`, anything else is a 404.
final class LoopbackHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let socketFD: Int32
    private let root: URL
    private let thread: Thread
    /// Signalled by the serving thread once it has closed the listening socket.
    private let finished = DispatchSemaphore(value: 0)

    init(root: URL) throws {
        self.root = root
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
        let folder = root, finished = finished
        // The serving thread closes the socket itself when accept fails: were stop() to close
        // it, the descriptor's number could go to the next test's server while this thread is
        // between two accepts, and this thread would then answer that server's requests from
        // its own folder (404s for files that are there, when tests run in parallel).
        thread = Thread {
            LoopbackHTTPServer.serve(fd, folder)
            close(fd)
            finished.signal()
        }
        thread.start()
    }

    /// Stops accepting (a blocked accept fails) and waits until the serving thread is done.
    func stop() {
        shutdown(socketFD, Int32(SHUT_RDWR))
        finished.wait()
    }

    private static func serve(_ listener: Int32, _ root: URL) {
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
            var body = Data(), status = "404 Not Found"
            if line.count > 1, line[0] == "GET", !line[1].contains(".."),
               let data = try? Data(contentsOf: root.appendingPathComponent(String(line[1].dropFirst()))) {
                body = data
                status = "200 OK"
            }
            let head = "HTTP/1.0 \(status)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            for chunk in [Data(head.utf8), body] {
                chunk.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let w = write(client, raw.baseAddress! + offset, raw.count - offset)
                        if w < 0 && errno == EINTR { continue }
                        if w <= 0 { break }
                        offset += w
                    }
                }
            }
            close(client)
        }
    }
}
