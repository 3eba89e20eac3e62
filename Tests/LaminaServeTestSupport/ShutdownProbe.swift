import Foundation
import Lamina
import LaminaServe

/// What the graceful-shutdown tests of both front ends (REST and gRPC) need: a model's batches
/// held open, and a way to wait until every request sent has reached the server, so that the
/// shutdown is triggered while they wait in the batch (a fixed sleep was not always long enough
/// under ThreadSanitizer: a connection not yet accepted was reset when the listener closed).
public final class ShutdownProbe: Sendable {
    private let batcher: DynamicBatcher
    private let answered = Locked(0)

    /// Holds `model`'s open batches open until their timeout: an announced request that never
    /// comes. The server's `batchTimeout` should be long (seconds).
    public init(_ server: ModelServer, model: String) throws {
        let served = try server.registry.acquire(model, .latest).get()
        served.batcher.announce()
        batcher = served.batcher
        served.release()
    }

    /// Counts a request answered (call it when the client's call returns).
    public func answer() { answered.withLock { $0 += 1 } }

    /// Returns once `count` requests are queued in the open batch or answered (at most
    /// `timeout`; the test's own expectations then tell what went wrong).
    public func waitUntilReached(_ count: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while batcher.queuedRequests + answered.withLock({ $0 }) < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
