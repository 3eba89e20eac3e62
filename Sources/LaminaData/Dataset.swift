import Lamina
import Foundation

/// An input pipeline for `fit`, `evaluate` and `predict`, as tf.data and Keras's `PyDataset`
/// are for Keras: a source, then stages in the order they are written.
///
/// ```swift
/// let train = try Dataset.fromNumPy(x: "x.npy", y: "y.npy")     // memory-mapped, larger than RAM is fine
///     .shuffle(seed: 42).map { x, y in (x * (1.0 / 255), y) }.batch(128).prefetch(2)
/// try model.fit(train, epochs: 5)
/// ```
///
/// - `shuffle` draws a full permutation of a random-access source each epoch (from its own
///   seeded generator, or from Lamina's default generator — so `fromTensors(x, y).shuffle()
///   .batch(n)` under `fit` gives exactly the batches of `fit(x, y, batchSize: n)`); after a
///   stage that breaks random access (`repeated`, `take`) it shuffles within a seeded buffer.
/// - `map` transforms each sample (before `batch`) or each batch (after it).
/// - `batch` stacks consecutive elements; the last one may be partial (`dropRemainder`).
/// - `repeated(n)` runs the stages before it `n` times (nil: forever), `take(n)` stops after
///   `n` elements, `prefetch(n)` prepares up to `n` elements on a background thread while the
///   current one is used.
/// - `map(numParallelCalls:)` transforms several elements at once on Lamina's threads, in order;
///   `filter`, `cache`, `unbatch`, `shard`, `interleave` and `Dataset.zip` as tf.data's
///   (see each; DatasetStages.swift).
public struct Dataset: Sendable {
    /// One element: a sample or a batch, with its labels when the source has them.
    public typealias Element = (x: Tensor, y: Tensor?)
    /// A `map` function: inputs and labels in, inputs and labels out.
    public typealias Transform = @Sendable (Tensor, Tensor?) throws -> (Tensor, Tensor?)
    /// A `filter` function: whether to keep the element.
    public typealias Predicate = @Sendable (Tensor, Tensor?) throws -> Bool
    /// Let Lamina choose (tf.data's `AUTOTUNE`): for `numParallelCalls`, one call per thread
    /// of Lamina's pool (`ThreadCount.current`); for `interleave`'s `cycleLength`, the same.
    public static let autotune = -1

    indirect enum Stage: Sendable {
        case source(any DataSource)
        case shuffle(Stage, bufferSize: Int?, seed: UInt64?, passes: PassCounter)
        case map(Stage, Transform)
        case batch(Stage, size: Int, dropRemainder: Bool)
        case repeated(Stage, count: Int?)
        case take(Stage, count: Int)
        case prefetch(Stage, depth: Int)
        case parallelMap(Stage, Transform, calls: Int)
        case filter(Stage, Predicate)
        case cache(Stage, ElementCache)
        case unbatch(Stage)
        case shard(Stage, count: Int, index: Int)
        case zip(Stage, Stage)
        case interleave(Stage, cycleLength: Int, blockLength: Int, Interleaved)
        case enumerate(Stage, start: Int, IndexedTransform, calls: Int)
    }
    /// An `interleave` function: the dataset an element expands into.
    public typealias Interleaved = @Sendable (Tensor, Tensor?) throws -> Dataset
    /// A transform of an element and its position in the pass (`enumerate(start:)`).
    public typealias IndexedTransform = @Sendable (Int, Tensor, Tensor?) throws -> (Tensor, Tensor?)
    let stage: Stage

    /// A dataset over `source`'s samples, in order.
    public init(_ source: any DataSource) { stage = .source(source) }
    init(stage: Stage) { self.stage = stage }

    /// Samples held in tensors (Keras: `tf.data.Dataset.from_tensor_slices((x, y))`).
    public static func fromTensors(_ x: Tensor, _ y: Tensor? = nil) throws -> Dataset { Dataset(try TensorSource(x, y)) }

    /// Shuffles the samples each epoch: a full permutation of a random-access source, or within a
    /// buffer of `bufferSize` elements after `repeated` or `take`. tf.data: `shuffle(buffer_size, seed)`.
    public func shuffle(bufferSize: Int? = nil, seed: UInt64? = nil) -> Dataset {
        Dataset(stage: .shuffle(stage, bufferSize: bufferSize, seed: seed, passes: PassCounter()))
    }
    /// Applies `transform` to each element (a sample before `batch`, a batch after). tf.data: `map`.
    public func map(_ transform: @escaping Transform) -> Dataset { Dataset(stage: .map(stage, transform)) }
    /// Stacks `size` consecutive elements into one (the last may be smaller unless
    /// `dropRemainder`). tf.data: `batch(batch_size, drop_remainder=False)`.
    public func batch(_ size: Int, dropRemainder: Bool = false) -> Dataset {
        Dataset(stage: .batch(stage, size: size, dropRemainder: dropRemainder))
    }
    /// Runs the stages before it `count` times (nil: forever). tf.data: `repeat(count)`.
    public func repeated(_ count: Int? = nil) -> Dataset { Dataset(stage: .repeated(stage, count: count)) }
    /// The first `count` elements. tf.data: `take(count)`.
    public func take(_ count: Int) -> Dataset { Dataset(stage: .take(stage, count: count)) }
    /// Prepares up to `depth` elements on a background thread while the current one is used. tf.data: `prefetch`.
    public func prefetch(_ depth: Int = 2) -> Dataset { Dataset(stage: .prefetch(stage, depth: depth)) }

    /// Whether elements are batches (a `batch` stage comes before any later stage that counts).
    public var isBatched: Bool { Self.batched(stage) }
    private static func batched(_ s: Stage) -> Bool {
        switch s {
        case .source: return false
        case .batch: return true
        case .shuffle(let up, _, _, _), .map(let up, _), .repeated(let up, _), .take(let up, _), .prefetch(let up, _),
             .parallelMap(let up, _, _), .filter(let up, _), .cache(let up, _), .shard(let up, _, _), .zip(let up, _),
             .enumerate(let up, _, _, _):
            return batched(up)
        case .unbatch, .interleave: return false
        }
    }

    /// The number of elements one pass yields, when it is known (nil: infinite or unknown).
    public var cardinality: Int? { Self.cardinality(stage) }
    private static func cardinality(_ s: Stage) -> Int? {
        switch s {
        case .source(let source): return source.count
        case .shuffle(let up, _, _, _), .map(let up, _), .prefetch(let up, _): return cardinality(up)
        case .batch(let up, let size, let drop):
            guard let n = cardinality(up), size > 0 else { return nil }
            return drop ? n / size : (n + size - 1) / size
        case .repeated(let up, let count):
            guard let count, let n = cardinality(up) else { return nil }
            return n * count
        case .take(let up, let count): return cardinality(up).map { min($0, count) } ?? count
        case .parallelMap(let up, _, _), .cache(let up, _), .enumerate(let up, _, _, _): return cardinality(up)
        case .shard(let up, let count, let index): return cardinality(up).map { Swift.max(0, ($0 - index + count - 1) / count) }
        case .zip(let a, let b):
            switch (cardinality(a), cardinality(b)) {
            case (let m?, let n?): return Swift.min(m, n)
            case (let m?, nil) where infinite(b): return m
            case (nil, let n?) where infinite(a): return n
            default: return nil
            }
        case .filter, .unbatch, .interleave: return nil   // known only by running the pass
        }
    }

    /// Whether a pass never ends (an unbounded `repeated()` not cut by `take`).
    var isInfinite: Bool { Self.infinite(stage) }
    private static func infinite(_ s: Stage) -> Bool {
        switch s {
        case .source: return false
        case .repeated(let up, let count): return count == nil || infinite(up)
        case .take: return false
        case .shuffle(let up, _, _, _), .map(let up, _), .batch(let up, _, _), .prefetch(let up, _), .parallelMap(let up, _, _),
             .filter(let up, _), .cache(let up, _), .unbatch(let up), .shard(let up, _, _), .interleave(let up, _, _, _),
             .enumerate(let up, _, _, _):
            return infinite(up)
        case .zip(let a, let b): return infinite(a) && infinite(b)
        }
    }

    /// Checks the stages' arguments.
    func validate() throws {
        func check(_ s: Stage) throws {
            switch s {
            case .source(let source):
                guard source.count > 0 else { throw LaminaError.value("Dataset: the source has no samples") }
            case .shuffle(let up, let size, _, _):
                if let size, size < 1 { throw LaminaError.value("Dataset.shuffle: bufferSize must be positive, got \(size)") }
                try check(up)
            case .batch(let up, let size, _):
                guard size > 0 else { throw LaminaError.value("Dataset.batch: size must be positive, got \(size)") }
                try check(up)
            case .repeated(let up, let count):
                if let count, count < 1 { throw LaminaError.value("Dataset.repeated: count must be positive, got \(count)") }
                try check(up)
            case .take(let up, let count):
                guard count >= 0 else { throw LaminaError.value("Dataset.take: count must be ≥ 0, got \(count)") }
                try check(up)
            case .prefetch(let up, let depth):
                guard depth > 0 else { throw LaminaError.value("Dataset.prefetch: depth must be positive, got \(depth)") }
                try check(up)
            case .map(let up, _), .filter(let up, _), .cache(let up, _), .unbatch(let up): try check(up)
            case .parallelMap(let up, _, let calls), .enumerate(let up, _, _, let calls):
                guard calls == Dataset.autotune || calls > 0 else {
                    throw LaminaError.value("Dataset.map: numParallelCalls must be positive or Dataset.autotune, got \(calls)")
                }
                try check(up)
            case .shard(let up, let count, let index):
                guard count > 0, (0..<count).contains(index) else {
                    throw LaminaError.value("Dataset.shard: needs count > 0 and 0 ≤ index < count, got count \(count), index \(index)")
                }
                try check(up)
            case .zip(let a, let b): try check(a); try check(b)
            case .interleave(let up, let cycle, let block, _):
                guard cycle == Dataset.autotune || cycle > 0, block > 0 else {
                    throw LaminaError.value("Dataset.interleave: cycleLength (\(cycle)) and blockLength (\(block)) must be positive")
                }
                try check(up)
            }
        }
        try check(stage)
    }

    /// A fresh pass over the data (a new shuffle order). Stop early with `cancel()`.
    public func makeIterator() throws -> DatasetIterator {
        try validate()
        return DatasetIterator(Self.iterator(stage))
    }

    /// A pass whose batches are this process's shards of the global batches (`rankShard`, from
    /// `fit` under DataParallel; nil: whole batches). Only for a pipeline `readsByRankShard`.
    func makeIterator(rankShard: RankShard?) throws -> DatasetIterator {
        try validate()
        let own = rankShard.map { RankShard($0.shard) }   // this pass's own queue of global batches
        return DatasetIterator(Self.iterator(stage, rankShard: own), rankShard: own)
    }

    /// Whether each process can read only its shard of each batch: the batches are gathered
    /// straight from a random-access source (after `shuffle` or `shard` at most), and only
    /// `prefetch`, `take` and `repeated` come after them — stages that do not look into a batch,
    /// so a shard of it gives the same shard of the global batch.
    var readsByRankShard: Bool {
        func batches(_ s: Stage) -> Bool {
            switch s {
            case .prefetch(let up, _), .take(let up, _), .repeated(let up, _): return batches(up)
            case .batch(let up, _, _):
                switch up {
                case .source, .shuffle(.source, _, _, _), .shard(.source, _, _): return true
                default: return false
                }
            default: return false
            }
        }
        return batches(stage)
    }

    static func iterator(_ s: Stage, rankShard: RankShard? = nil) -> any ElementIterator {
        switch s {
        case .source(let source):
            return SourceIterator(source: source, order: Array(0..<source.count))
        case .shuffle(let up, let size, let seed, let passes):
            // A seeded shuffle draws a new order each pass (epoch), the same sequence every run.
            let pass = passes.next()
            var generator = seed.map { RandomGenerator(seed: $0 &+ pass &* 0x9E37_79B9_7F4A_7C15) }
            func permutation(_ count: Int) -> [Int] {
                var order = Array(0..<count)
                GlobalRandom.with(&generator) { order.shuffle(using: &$0) }
                return order
            }
            if case .source(let source) = up {   // random access: a full permutation
                return SourceIterator(source: source, order: permutation(source.count))
            }
            if case .map(let inner, let transform) = up, case .source(let source) = inner {   // shuffle the samples, then transform them
                return MapIterator(upstream: SourceIterator(source: source, order: permutation(source.count)), transform: transform)
            }
            if case .parallelMap(let inner, let transform, let calls) = up, case .source(let source) = inner {
                return ParallelMapIterator(upstream: SourceIterator(source: source, order: permutation(source.count)), transform: transform, calls: calls)
            }
            return BufferShuffleIterator(upstream: iterator(up), size: size ?? 1024, generator: generator)
        case .map(let up, let transform): return MapIterator(upstream: iterator(up), transform: transform)
        case .batch(let up, let size, let drop):
            // One iterator of the stages before: making a second would draw a second shuffle.
            let upstream = iterator(up)
            if let plan = upstream as? SourceIterator {
                return SourceBatchIterator(plan: plan, size: size, dropRemainder: drop, rankShard: rankShard)
            }
            return BatchIterator(upstream: upstream, size: size, dropRemainder: drop)
        case .repeated(let up, let count): return RepeatIterator(make: { iterator(up, rankShard: rankShard) }, count: count)
        case .take(let up, let count): return TakeIterator(upstream: iterator(up, rankShard: rankShard), left: count)
        case .prefetch(let up, let depth): return PrefetchIterator(upstream: iterator(up, rankShard: rankShard), depth: depth)
        case .parallelMap(let up, let transform, let calls): return ParallelMapIterator(upstream: iterator(up), transform: transform, calls: calls)
        case .enumerate(let up, let start, let transform, let calls):
            if calls == 1 { return EnumerateIterator(upstream: iterator(up), index: start, transform: transform) }
            return ParallelMapIterator(upstream: iterator(up), start: start, transform: transform, calls: calls)
        case .filter(let up, let predicate): return FilterIterator(upstream: iterator(up), predicate: predicate)
        case .cache(let up, let cache): return cache.iterator { iterator(up) }
        case .unbatch(let up): return UnbatchIterator(upstream: iterator(up))
        case .shard(let up, let count, let index):
            if case .source(let source) = up {   // random access: read only this shard's samples
                return SourceIterator(source: source, order: Array(stride(from: index, to: source.count, by: count)))
            }
            return ShardIterator(upstream: iterator(up), count: count, index: index)
        case .zip(let a, let b): return ZipIterator(first: iterator(a), second: iterator(b))
        case .interleave(let up, let cycle, let block, let make):
            return InterleaveIterator(upstream: iterator(up), cycleLength: cycle == Dataset.autotune ? ThreadCount.current : cycle,
                                      blockLength: block, make: make)
        }
    }
}

/// Counts the passes made over a shuffle stage, so that a seeded shuffle varies by epoch.
final class PassCounter: Sendable {
    private let count = Locked<UInt64>(0)
    func next() -> UInt64 { count.withLock { value in defer { value += 1 }; return value } }
}

/// This process's rows of each global batch (`DistributionStrategy.shard`), and the global
/// batches whose shards were read, in order: the batch iterator adds each global batch's size
/// and sample indices, the consumer takes them with each batch (`prefetch` keeps the order).
final class RankShard: Sendable {
    let shard: @Sendable (Int) -> Range<Int>
    private let read = Locked<[(count: Int, token: Tensor)]>([])
    init(_ shard: @escaping @Sendable (Int) -> Range<Int>) { self.shard = shard }
    func add(_ indices: [Int]) { read.withLock { $0.append((indices.count, Tensor(shape: [indices.count], scalars: indices.map(Double.init)))) } }
    func take() -> (count: Int, token: Tensor)? { read.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
}

extension Normalization {
    /// Sets the mean and variance from every batch of `dataset` (its inputs), combining
    /// batches exactly (Chan's parallel update), as Keras's `adapt` on a dataset.
    public func adapt(_ dataset: Dataset) throws {
        let iterator = try dataset.makeIterator()
        try adapt(batches: { try iterator.next()?.x })
    }
}
