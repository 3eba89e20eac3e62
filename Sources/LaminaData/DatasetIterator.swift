import Lamina
import Foundation

/// One pass over a `Dataset`.
public final class DatasetIterator {
    private var inner: any ElementIterator
    private let rankShard: RankShard?
    init(_ inner: any ElementIterator, rankShard: RankShard? = nil) { (self.inner, self.rankShard) = (inner, rankShard) }
    /// The next element, nil at the end.
    public func next() throws -> Dataset.Element? { try inner.next() }
    /// The global batch of the element `next` returned last, when read by rank shard.
    func globalBatch() throws -> (count: Int, token: Tensor) {
        guard let global = rankShard?.take() else { throw LaminaError(.configuration, "Dataset: a sharded batch came without its global batch") }
        return global
    }
    /// Stops background work (prefetching) early.
    public func cancel() { inner.cancel() }
    deinit { inner.cancel() }
}

protocol ElementIterator {
    mutating func next() throws -> Dataset.Element?
    mutating func cancel()
}
extension ElementIterator { mutating func cancel() {} }

/// Samples of a random-access source in a given order, one at a time.
struct SourceIterator: ElementIterator {
    let source: any DataSource
    let order: [Int]
    var position = 0
    mutating func next() throws -> Dataset.Element? {
        guard position < order.count else { return nil }
        defer { position += 1 }
        let (x, y) = try source.batch(at: [order[position]])
        return (x.squeezed(axis: 0), y?.squeezed(axis: 0))
    }
}

/// Batches gathered straight from a random-access source: one `batch(at:)` per batch, then a
/// read-ahead hint for the next one. With `rankShard`, only this process's rows of each batch.
struct SourceBatchIterator: ElementIterator {
    var plan: SourceIterator
    let size: Int, dropRemainder: Bool
    var rankShard: RankShard? = nil
    /// The sample indices of the next batch (nil at the end), or this process's share of them.
    private func upcoming(from position: Int) -> [Int]? {
        let left = plan.order.count - position
        guard left > 0, !(dropRemainder && left < size) else { return nil }
        return Array(plan.order[position..<(position + min(size, left))])
    }
    private func mine(_ indices: [Int]) -> [Int] { rankShard.map { Array(indices[$0.shard(indices.count)]) } ?? indices }
    mutating func next() throws -> Dataset.Element? {
        guard let indices = upcoming(from: plan.position) else { return nil }
        plan.position += indices.count
        let batch = try plan.source.batch(at: mine(indices))
        rankShard?.add(indices)
        if let following = upcoming(from: plan.position) { plan.source.prepare(mine(following)) }
        return batch
    }
}

struct MapIterator: ElementIterator {
    var upstream: any ElementIterator
    let transform: Dataset.Transform
    mutating func next() throws -> Dataset.Element? {
        guard let (x, y) = try upstream.next() else { return nil }
        let (tx, ty) = try transform(x, y)
        return (tx, ty)
    }
    mutating func cancel() { upstream.cancel() }
}

struct BatchIterator: ElementIterator {
    var upstream: any ElementIterator
    let size: Int, dropRemainder: Bool
    mutating func next() throws -> Dataset.Element? {
        var xs: [Tensor] = [], ys: [Tensor] = []
        while xs.count < size, let (x, y) = try upstream.next() {
            if let first = xs.first, first.shape != x.shape {
                throw LaminaError.shape("Dataset.batch: element \(xs.count) has shape \(x.shape), the first \(first.shape)")
            }
            if let y, let firstLabel = ys.first, firstLabel.shape != y.shape {
                throw LaminaError.shape("Dataset.batch: the label of element \(xs.count) has shape \(y.shape), the first \(firstLabel.shape)")
            }
            xs.append(x)
            if let y { ys.append(y) }
        }
        guard !xs.isEmpty, !(dropRemainder && xs.count < size) else { return nil }
        guard ys.isEmpty || ys.count == xs.count else { throw LaminaError.value("Dataset.batch: some elements have labels and some do not") }
        return (Tensor.stacked(xs), ys.isEmpty ? nil : Tensor.stacked(ys))
    }
    mutating func cancel() { upstream.cancel() }
}

struct RepeatIterator: ElementIterator {
    let make: () -> any ElementIterator
    let count: Int?
    var current: (any ElementIterator)?
    var done = 0, yieldedThisPass = false
    init(make: @escaping () -> any ElementIterator, count: Int?) { (self.make, self.count) = (make, count) }
    mutating func next() throws -> Dataset.Element? {
        while true {
            if current == nil {
                if let count, done >= count { return nil }
                current = make()
                yieldedThisPass = false
            }
            if let element = try current!.next() {
                yieldedThisPass = true
                return element
            }
            done += 1
            current = nil
            if !yieldedThisPass { return nil }   // repeating an empty pass would never end
        }
    }
    mutating func cancel() { current?.cancel() }
}

struct TakeIterator: ElementIterator {
    var upstream: any ElementIterator
    var left: Int
    mutating func next() throws -> Dataset.Element? {
        guard left > 0, let element = try upstream.next() else { return nil }
        left -= 1
        return element
    }
    mutating func cancel() { upstream.cancel() }
}

/// Keras's buffered shuffle for streams: keep `size` elements, emit a random one, refill.
struct BufferShuffleIterator: ElementIterator {
    var upstream: any ElementIterator
    let size: Int
    var generator: RandomGenerator?
    var buffer: [Dataset.Element] = []
    var exhausted = false
    init(upstream: any ElementIterator, size: Int, generator: RandomGenerator?) {
        (self.upstream, self.size, self.generator) = (upstream, size, generator)
    }
    mutating func next() throws -> Dataset.Element? {
        while !exhausted && buffer.count < size {
            if let element = try upstream.next() { buffer.append(element) } else { exhausted = true }
        }
        guard !buffer.isEmpty else { return nil }
        let n = buffer.count
        let pick = GlobalRandom.with(&generator) { Int.random(in: 0..<n, using: &$0) }
        buffer.swapAt(pick, buffer.count - 1)
        return buffer.removeLast()
    }
    mutating func cancel() { upstream.cancel() }
}

/// Runs the upstream iterator on a background thread, keeping up to `depth` elements ready.
final class PrefetchIterator: ElementIterator, @unchecked Sendable {
    // `@unchecked`: `ready`, `finished`, `failure` and `cancelled` are touched only with
    // `condition` locked; the upstream iterator is used by the worker thread alone.
    private let condition = NSCondition()
    private var ready: [Dataset.Element] = []
    private var finished = false, cancelled = false
    private var failure: (any Error)?
    private let depth: Int

    init(upstream: any ElementIterator, depth: Int) {
        self.depth = depth
        nonisolated(unsafe) var source = upstream   // moved to the worker, used there only
        let thread = Thread { [self] in
            while true {
                self.condition.lock()
                while self.ready.count >= self.depth && !self.cancelled { self.condition.wait() }
                let stop = self.cancelled
                self.condition.unlock()
                if stop { source.cancel(); break }
                let element: Dataset.Element?
                var error: (any Error)?
                do { element = try source.next() } catch let e { element = nil; error = e }
                self.condition.lock()
                if let element { self.ready.append(element) } else { self.finished = true; self.failure = error }
                self.condition.broadcast()
                self.condition.unlock()
                if element == nil { break }
            }
        }
        thread.name = "lamina-prefetch"
        thread.start()
    }

    func next() throws -> Dataset.Element? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        if !ready.isEmpty {
            let element = ready.removeFirst()
            condition.broadcast()
            return element
        }
        if let failure { throw failure }
        return nil
    }

    func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
