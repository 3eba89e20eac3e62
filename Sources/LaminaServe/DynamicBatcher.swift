import Foundation
import Lamina

/// Runs a model's predictions off the server's event loops, coalescing concurrent requests
/// into one `predict` as TensorFlow Serving's batching does: the first waiting request opens a
/// batch, which closes when it holds `maxBatch` samples or `timeout` has passed since that
/// request arrived; the outputs are split back per request. `maxBatch` 0 turns batching off
/// (each request is its own `predict`, run concurrently).
///
/// Unlike TF Serving, a batch also closes at once when no other request is on its way (the
/// server `announce`s each request when it arrives, before reading its body): a lone request
/// does not wait out the timeout, and under load batches form from the requests that arrive
/// while the previous batch runs.
///
/// One worker thread runs the batched predictions (each one uses all cores through Lamina's
/// kernels), so the Swift concurrency pool and NIO's event loops never block on a model.
public final class DynamicBatcher: @unchecked Sendable {
    // `@unchecked`: `queue`, `stopped` and `worker` are read and written only with `condition`
    // locked; `model` is an InferenceModel (Sendable); the rest are constants.
    private struct Pending {
        let input: [Tensor]
        let arrival: ContinuousClock.Instant
        let completion: Completion
    }

    /// Receives a prediction's outputs (or its error) on the thread that ran it.
    public typealias Completion = @Sendable (Result<[Tensor], any Error>) -> Void

    /// Hands a result from the worker thread to the waiting task under a pthread mutex: the
    /// ordering is then plain to ThreadSanitizer too (it does not see the concurrency
    /// runtime's own hand-off from a foreign thread).
    final class Mailbox: Sendable {
        private let result = Locked<Result<[Tensor], any Error>?>(nil)
        func put(_ value: Result<[Tensor], any Error>) { result.withLock { $0 = value } }
        func take() throws -> [Tensor] {
            guard let result = result.withLock({ $0 }) else { throw RequestError(500, "no prediction was made") }
            return try result.get()
        }
    }
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var stopped = false
    /// Requests announced but not yet submitted (their bodies are being read or parsed).
    private var incoming = 0
    private var worker: Thread?

    /// The model this batcher runs.
    public let model: InferenceModel
    /// The most samples one `predict` takes (0: no batching).
    public let maxBatch: Int
    /// How long the first request of a batch waits for others.
    public let timeout: Duration
    /// Called with the number of samples of each `predict` the batcher runs (for metrics).
    private let onPredict: @Sendable (Int) -> Void

    /// A batcher of `model`; `onPredict` is called with each batch's sample count.
    public init(model: InferenceModel, maxBatch: Int, timeout: Duration, onPredict: @escaping @Sendable (Int) -> Void = { _ in }) {
        (self.model, self.maxBatch, self.timeout, self.onPredict) = (model, max(maxBatch, 0), timeout, onPredict)
        if self.maxBatch > 0 {
            let thread = Thread { [self] in self.run() }   // the worker keeps the batcher until `shutdown()`
            thread.name = "lamina-batcher"
            worker = thread
            thread.start()
        }
    }

    /// Requests queued and not yet taken into a batch.
    public var queuedRequests: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// A request is on its way: the open batch waits for it (up to the timeout).
    public func announce() {
        condition.lock()
        incoming += 1
        condition.unlock()
    }

    /// An announced request will not be submitted after all (it was malformed).
    public func withdraw() {
        condition.lock()
        incoming = max(incoming - 1, 0)
        condition.signal()
        condition.unlock()
    }

    /// The model's output for `input` (`[n] + inputShape`), predicted alone or in a batch.
    /// `announced`: this request was `announce`d.
    public func predict(_ input: Tensor, announced: Bool = false) async throws -> Tensor {
        try await predict([input], announced: announced)[0]
    }

    /// The model's outputs (one per output) for a batch of each input, alone or in a batch.
    public func predict(_ input: [Tensor], announced: Bool = false) async throws -> [Tensor] {
        let mailbox = Mailbox()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            submit(input, announced: announced) { result in
                mailbox.put(result)
                continuation.resume()
            }
        }
        return try mailbox.take()
    }

    /// Queues `input` (a batch of each model input) and returns at once; `completion` gets the
    /// outputs on the thread that ran the model (the batcher's worker, or a Dispatch thread
    /// without batching) and should only hand them on (an event loop's `execute`, say). The
    /// path of front ends that answer from a NIO event loop with no Swift task per request.
    public func submit(_ input: [Tensor], announced: Bool = false, completion: @escaping Completion) {
        guard maxBatch > 0 else {
            if announced { withdraw() }
            let (model, onPredict) = (model, onPredict)
            DispatchQueue.global().async {
                onPredict(input[0].shape[0])
                completion(Result { try model.predict(input, batchSize: max(input[0].shape[0], 1)) })
            }
            return
        }
        condition.lock()
        if announced { incoming = max(incoming - 1, 0) }
        guard !stopped else {
            condition.unlock()
            completion(.failure(RequestError(503, "the server is shutting down")))
            return
        }
        queue.append(Pending(input: input, arrival: .now, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// Finishes the requests already queued, then stops the worker. Later requests get 503.
    public func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func samples(_ pending: ArraySlice<Pending>) -> Int { pending.reduce(0) { $0 + $1.input[0].shape[0] } }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopped { condition.wait() }
            if queue.isEmpty && stopped {
                condition.unlock()
                return
            }
            // Hold the batch open until it is full or the first request has waited `timeout`.
            let deadline = queue[0].arrival + timeout
            while samples(queue[...]) < maxBatch && !stopped && incoming > 0 {
                let left = ContinuousClock.now.duration(to: deadline)
                guard left > .zero else { break }
                let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) * 1e-18
                _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
            }
            var count = 0, total = 0
            while count < queue.count && (count == 0 || total + queue[count].input[0].shape[0] <= maxBatch) {
                total += queue[count].input[0].shape[0]
                count += 1
            }
            let batch = Array(queue.prefix(count))
            queue.removeFirst(count)
            condition.unlock()
            execute(batch, total: total)
        }
    }

    private func execute(_ batch: [Pending], total: Int) {
        onPredict(total)
        do {
            let input = batch.count == 1 ? batch[0].input
                : batch[0].input.indices.map { i in Tensor.concatenated(batch.map { $0.input[i] }, axis: 0) }
            let output = try model.predict(input, batchSize: max(total, 1))
            var start = 0
            for pending in batch {
                let n = pending.input[0].shape[0]
                pending.completion(.success(batch.count == 1 ? output : output.map { $0.sliced(axis: 0, start..<(start + n)) }))
                start += n
            }
        } catch {
            for pending in batch { pending.completion(.failure(error)) }
        }
    }
}
