import Lamina
import Foundation
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension HTTP {
    /// Downloads `url` into `destination`, streaming the body to a temporary file beside it and
    /// renaming that into place once complete (a failed or cut download leaves nothing at
    /// `destination`). With `verbose` 1 a `Progbar` counts the bytes (`KB` steps), with the rate
    /// and the time left (Keras's `get_file` shows the same bar). Gives up after `timeout`
    /// seconds in all, or `idleTimeout` seconds without data. Returns the bytes received.
    @discardableResult
    static func download(_ url: URL, to destination: URL, timeout: TimeInterval = 600, idleTimeout: TimeInterval = 60,
                         verbose: Int = 1) throws -> Int {
        let directory = destination.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let partial = directory.appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString.prefix(8)).part")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
            throw LaminaError(.io, "\(partial.path): cannot create the download file")
        }
        var kept = false
        defer { if !kept { try? FileManager.default.removeItem(at: partial) } }
        let writer = try FileHandle(forWritingTo: partial)
        let stream = StreamingDownload(file: writer, verbose: verbose)
        let session = URLSession(configuration: .ephemeral, delegate: stream, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url)
        request.timeoutInterval = idleTimeout
        let task = session.dataTask(with: request)
        task.resume()
        if stream.done.wait(timeout: .now() + timeout) == .timedOut {
            task.cancel()
            _ = stream.done.wait(timeout: .now() + 5)
            try? writer.close()
            throw LaminaError(.io, "\(url.absoluteString): timed out after \(Int(timeout)) s")
        }
        try writer.close()
        if let failure = stream.state.withLock({ $0.failure }) { throw failure }
        guard rename(partial.path, destination.path) == 0 else {
            throw LaminaError(.io, "\(destination.path): cannot move the download into place (\(String(cString: strerror(errno))))")
        }
        kept = true
        return stream.state.withLock { $0.received }
    }
}

/// The session delegate of `HTTP.download`: checks the status, appends each chunk to the file
/// and moves the progress bar.
final class StreamingDownload: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // `@unchecked`: the delegate queue is serial; `state` is `Locked` for the waiting thread.
    struct State {
        var failure: (any Error)?
        var received = 0, expected: Int?
        var bar: Progbar?
    }
    let file: FileHandle
    let verbose: Int
    let state = Locked(State())
    let done = DispatchSemaphore(value: 0)
    let start = Date()
    init(file: FileHandle, verbose: Int) { (self.file, self.verbose) = (file, verbose) }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            state.withLock { $0.failure = LaminaError(.io, "\(response.url?.absoluteString ?? "download"): HTTP status \(http.statusCode)") }
            completionHandler(.cancel)
            return
        }
        let expected = response.expectedContentLength > 0 ? Int(response.expectedContentLength) : nil
        state.withLock { $0.expected = expected; $0.bar = Progbar(target: expected.map { ($0 + 1023) / 1024 }, verbose: verbose, unitName: "KB") }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        do {
            try file.write(contentsOf: data)
        } catch {
            state.withLock { if $0.failure == nil { $0.failure = LaminaError(.io, "writing the download: \(error)") } }
            dataTask.cancel()
            return
        }
        let seconds = max(Date().timeIntervalSince(start), 1e-3)
        state.withLock { s in
            s.received += data.count
            let kb = (s.received + 1023) / 1024
            // Not the last step: the bar finishes when the transfer does.
            if s.expected.map({ s.received < $0 }) ?? true { s.bar?.update(kb, values: ["MB/s": Double(s.received) / seconds / 1e6]) }
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let seconds = max(Date().timeIntervalSince(start), 1e-3)
        state.withLock { s in
            if s.failure == nil {
                if let error {
                    s.failure = LaminaError(.io, "\(task.originalRequest?.url?.absoluteString ?? "download"): \(error.localizedDescription)")
                } else if let expected = s.expected, s.received != expected {
                    s.failure = LaminaError(.io, "\(task.originalRequest?.url?.absoluteString ?? "download"): the transfer ended after \(s.received) of \(expected) bytes")
                }
            }
            if s.failure == nil { s.bar?.update((s.received + 1023) / 1024, values: ["MB/s": Double(s.received) / seconds / 1e6], finalize: true) }
        }
        done.signal()
    }
}
