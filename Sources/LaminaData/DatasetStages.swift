import Lamina
import Foundation

// The tf.data stages beyond source, shuffle, map, batch, repeat, take and prefetch: a parallel
// map, filter, cache, unbatch, shard, zip and interleave. Each is a `Dataset.Stage` case and an
// iterator here.

extension Dataset {
    /// Transforms up to `numParallelCalls` elements at once on Lamina's threads (tf.data:
    /// `map(f, num_parallel_calls=...)`; `Dataset.autotune` uses one call per thread), yielding
    /// them in their order (tf.data's `deterministic=True`, its default). An error is thrown at
    /// the element that caused it, after the elements before it.
    ///
    /// A transform that draws from Lamina's default random generator (augmentation layers without
    /// a seed) draws in a thread-dependent order: seed each call from the element, or use
    /// `numParallelCalls: 1`, for runs that repeat exactly.
    public func map(numParallelCalls: Int, _ transform: @escaping Transform) -> Dataset {
        numParallelCalls == 1 ? map(transform) : Dataset(stage: .parallelMap(stage, transform, calls: numParallelCalls))
    }

    /// Keeps the elements for which `predicate` is true (tf.data: `filter`). The length of a
    /// pass is then unknown until it ends: `fit` runs each epoch to the end, its progress bar
    /// counts `7/Unknown`.
    public func filter(_ predicate: @escaping Predicate) -> Dataset { Dataset(stage: .filter(stage, predicate)) }

    /// Keeps the elements of the first complete pass in memory and replays them in later passes
    /// (tf.data: `cache()`): put it after the expensive stages (decoding, resizing) and before a
    /// shuffle, which then draws a new order of the cached elements each epoch. A pass stopped
    /// early caches nothing, as tf.data.
    public func cache() -> Dataset { Dataset(stage: .cache(stage, ElementCache())) }

    /// Splits each batch back into its samples (tf.data: `unbatch`).
    public func unbatch() -> Dataset { Dataset(stage: .unbatch(stage)) }

    /// Keeps every `count`-th element, starting at `index` (tf.data: `shard(num_shards, index)`):
    /// worker `index` of `count` reads only its part. Straight after a source it reads only those
    /// samples.
    public func shard(count: Int, index: Int) -> Dataset { Dataset(stage: .shard(stage, count: count, index: index)) }

    /// Pairs the elements of two datasets, inputs from `inputs` and labels from the inputs of
    /// `labels` (tf.data: `Dataset.zip((xs, ys))`); it ends with the shorter one. Datasets that
    /// carry labels already are an error.
    public static func zip(_ inputs: Dataset, _ labels: Dataset) -> Dataset { Dataset(stage: .zip(inputs.stage, labels.stage)) }

    /// Transforms each element together with its position in the pass, `start`, `start + 1`, …
    /// (tf.data: `enumerate(start).map(lambda i, (x, y): ...)`), on up to `numParallelCalls`
    /// threads in order as `map(numParallelCalls:)`. The position is what makes a random
    /// augmentation repeat exactly under parallel calls: seed it from `i` (the count starts again
    /// with each pass, so vary the seed by epoch with a shuffle before it).
    public func enumerate(start: Int = 0, numParallelCalls: Int = 1, _ transform: @escaping IndexedTransform) -> Dataset {
        Dataset(stage: .enumerate(stage, start: start, transform, calls: numParallelCalls))
    }

    /// Maps each element to a dataset and interleaves them (tf.data: `interleave(f,
    /// cycle_length, block_length)`, same order): `cycleLength` datasets are open at once, and
    /// `blockLength` consecutive elements are taken from each in turn; an exhausted one is
    /// replaced by the next element's dataset. Typical: one dataset per file.
    public func interleave(cycleLength: Int = Dataset.autotune, blockLength: Int = 1, _ make: @escaping Interleaved) -> Dataset {
        Dataset(stage: .interleave(stage, cycleLength: cycleLength, blockLength: blockLength, make))
    }
}

/// `calls` worker threads transform the elements of a window that runs ahead of the consumer
/// (4 per worker); the consumer takes the results in order. The upstream stages run on the
/// consumer's thread, as they do without the map. The workers end with the pass or `cancel()`.
final class ParallelMapIterator: ElementIterator, @unchecked Sendable {
    // `@unchecked`: `jobs`, `results`, `stopped` are touched only with `condition` locked;
    // `upstream`, `submitted`, `taken`, `ended` by the consumer alone.
    typealias Outcome = Result<Dataset.Element, any Error>
    private var upstream: any ElementIterator
    private let transform: Dataset.IndexedTransform
    private let start: Int
    private let width: Int
    private let condition = NSCondition()
    private var jobs: [(index: Int, element: Dataset.Element)] = []
    private var results: [Int: Outcome] = [:]
    private var stopped = false
    private var started = false
    private var submitted = 0, taken = 0
    private var ended = false

    convenience init(upstream: any ElementIterator, transform: @escaping Dataset.Transform, calls: Int) {
        self.init(upstream: upstream, start: 0, transform: { _, x, y in try transform(x, y) }, calls: calls)
    }

    /// Elements transformed with their position in the pass (`start` for the first).
    init(upstream: any ElementIterator, start: Int, transform: @escaping Dataset.IndexedTransform, calls: Int) {
        (self.upstream, self.start, self.transform) = (upstream, start, transform)
        width = Swift.max(1, calls == Dataset.autotune ? ThreadCount.current : calls)
    }

    private func startWorkers() {
        started = true
        for _ in 0..<width {
            let thread = Thread { [self] in
                while true {
                    condition.lock()
                    while jobs.isEmpty && !stopped { condition.wait() }
                    if stopped { condition.unlock(); return }
                    let job = jobs.removeFirst()
                    condition.unlock()
                    let outcome = Outcome { let (x, y) = try transform(start + job.index, job.element.x, job.element.y); return (x, y) }
                    condition.lock()
                    results[job.index] = outcome
                    condition.broadcast()
                    condition.unlock()
                }
            }
            thread.name = "lamina-map"
            thread.start()
        }
    }

    func next() throws -> Dataset.Element? {
        if !started { startWorkers() }
        // Keep the window full: submit upstream elements (an upstream error waits its turn).
        while !ended && submitted - taken < 4 * width {
            let outcome: Outcome?
            do {
                guard let element = try upstream.next() else { ended = true; break }
                outcome = nil
                condition.lock()
                jobs.append((submitted, element))
                condition.broadcast()
                condition.unlock()
            } catch {
                ended = true
                outcome = .failure(error)
            }
            if let outcome { condition.lock(); results[submitted] = outcome; condition.unlock() }
            submitted += 1
        }
        guard taken < submitted else {   // the pass is over: the workers end
            stopWorkers()
            return nil
        }
        condition.lock()
        while results[taken] == nil { condition.wait() }
        let outcome = results.removeValue(forKey: taken)!
        condition.unlock()
        taken += 1
        return try outcome.get()
    }

    /// Ends the worker threads (they hold this iterator until then).
    private func stopWorkers() {
        condition.lock()
        stopped = true
        jobs.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        stopWorkers()
        upstream.cancel()
    }
}

/// `enumerate(start:)` on the calling thread.
struct EnumerateIterator: ElementIterator {
    var upstream: any ElementIterator
    var index: Int
    let transform: Dataset.IndexedTransform
    mutating func next() throws -> Dataset.Element? {
        guard let (x, y) = try upstream.next() else { return nil }
        let (tx, ty) = try transform(index, x, y)
        index += 1
        return (tx, ty)
    }
    mutating func cancel() { upstream.cancel() }
}

struct FilterIterator: ElementIterator {
    var upstream: any ElementIterator
    let predicate: Dataset.Predicate
    mutating func next() throws -> Dataset.Element? {
        while let element = try upstream.next() {
            if try predicate(element.x, element.y) { return element }
        }
        return nil
    }
    mutating func cancel() { upstream.cancel() }
}

/// The elements of a `cache()` stage's first complete pass.
final class ElementCache: Sendable {
    private let stored = Locked<[Dataset.Element]?>(nil)

    /// A replay of the cached pass, or a pass through the stages before that fills the cache.
    func iterator(_ make: () -> any ElementIterator) -> any ElementIterator {
        if let elements = stored.withLock({ $0 }) { return ReplayIterator(elements: elements) }
        return CachingIterator(upstream: make(), cache: self)
    }

    func store(_ elements: [Dataset.Element]) { stored.withLock { if $0 == nil { $0 = elements } } }
}

struct CachingIterator: ElementIterator {
    var upstream: any ElementIterator
    let cache: ElementCache
    var seen: [Dataset.Element] = []
    mutating func next() throws -> Dataset.Element? {
        guard let element = try upstream.next() else {
            cache.store(seen)   // a complete pass only: a cancelled one never gets here
            return nil
        }
        seen.append(element)
        return element
    }
    mutating func cancel() { upstream.cancel() }
}

struct ReplayIterator: ElementIterator {
    let elements: [Dataset.Element]
    var position = 0
    mutating func next() throws -> Dataset.Element? {
        guard position < elements.count else { return nil }
        defer { position += 1 }
        return elements[position]
    }
}

struct UnbatchIterator: ElementIterator {
    var upstream: any ElementIterator
    var current: Dataset.Element?
    var row = 0
    mutating func next() throws -> Dataset.Element? {
        while current == nil || row == current!.x.shape[0] {
            guard let (x, y) = try upstream.next() else { return nil }
            guard x.rank >= 1 else { throw LaminaError.shape("Dataset.unbatch: an element is a scalar, not a batch") }
            if let y, y.rank < 1 || y.shape[0] != x.shape[0] {
                throw LaminaError.shape("Dataset.unbatch: \(y.rank >= 1 ? y.shape[0] : 0) labels for a batch of \(x.shape[0])")
            }
            (current, row) = ((x, y), 0)
        }
        let (x, y) = current!
        defer { row += 1 }
        return (x.sliced(axis: 0, row..<(row + 1)).squeezed(axis: 0), y?.sliced(axis: 0, row..<(row + 1)).squeezed(axis: 0))
    }
    mutating func cancel() { upstream.cancel() }
}

struct ShardIterator: ElementIterator {
    var upstream: any ElementIterator
    let count: Int, index: Int
    var position = 0
    mutating func next() throws -> Dataset.Element? {
        while let element = try upstream.next() {
            defer { position += 1 }
            if position % count == index { return element }
        }
        return nil
    }
    mutating func cancel() { upstream.cancel() }
}

struct ZipIterator: ElementIterator {
    var first: any ElementIterator, second: any ElementIterator
    mutating func next() throws -> Dataset.Element? {
        guard let a = try first.next(), let b = try second.next() else { return nil }
        guard a.y == nil, b.y == nil else {
            throw LaminaError.value("Dataset.zip: pairs two datasets of inputs (the second's become the labels); one already has labels")
        }
        return (a.x, b.x)
    }
    mutating func cancel() { first.cancel(); second.cancel() }
}

/// tf.data's interleave: `cycleLength` slots visited in turn, `blockLength` elements from each;
/// an empty slot takes the next upstream element's dataset, an exhausted one is emptied and the
/// cycle moves on.
struct InterleaveIterator: ElementIterator {
    var upstream: any ElementIterator
    let blockLength: Int
    let make: Dataset.Interleaved
    var slots: [(any ElementIterator)?]
    var cycle = 0, block = 0, open = 0
    var inputEnded = false

    init(upstream: any ElementIterator, cycleLength: Int, blockLength: Int, make: @escaping Dataset.Interleaved) {
        (self.upstream, self.blockLength, self.make) = (upstream, blockLength, make)
        slots = Array(repeating: nil, count: Swift.max(1, cycleLength))
    }

    private mutating func advance() { block = 0; cycle = (cycle + 1) % slots.count }

    mutating func next() throws -> Dataset.Element? {
        while !inputEnded || open > 0 {
            if var slot = slots[cycle] {
                let element = try slot.next()
                slots[cycle] = slot
                if let element {
                    block += 1
                    if block == blockLength { advance() }
                    return element
                }
                slots[cycle] = nil
                open -= 1
                advance()
            } else if !inputEnded {
                if let (x, y) = try upstream.next() {
                    let dataset = try make(x, y)
                    try dataset.validate()
                    slots[cycle] = Dataset.iterator(dataset.stage)
                    open += 1
                } else {
                    inputEnded = true
                }
            } else {
                advance()
            }
        }
        return nil
    }

    mutating func cancel() {
        upstream.cancel()
        for i in slots.indices { slots[i]?.cancel() }
    }
}
