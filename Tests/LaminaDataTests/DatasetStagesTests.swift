import Foundation
import Synchronization
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

/// The tf.data stages of DatasetStages.swift: parallel map, filter, cache, unbatch, shard, zip
/// and interleave (against tf.data's own order, `Fixtures/generate_interleave_fixture.py`).
@Suite struct DatasetStagesTests {
    /// Samples 0..<n: x = [i, -i] (float), y = i (int32).
    static func numbered(_ n: Int) throws -> Dataset {
        let x = Tensor(shape: [n, 2], scalars: (0..<n).flatMap { [Float($0), -Float($0)] })
        return try Dataset.fromTensors(x, Tensor(shape: [n], scalars: (0..<n).map { Int32($0) }))
    }

    /// Every element of one pass: x's scalars and y's.
    func elements(_ d: Dataset) throws -> [([Float], [Int32])] {
        let it = try d.makeIterator()
        var out: [([Float], [Int32])] = []
        while let (x, y) = try it.next() { out.append((x.asArray(Float.self), y?.asArray(Int32.self) ?? [])) }
        return out
    }

    func same(_ a: [([Float], [Int32])], _ b: [([Float], [Int32])]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// A transform that costs something and depends on the element only.
    static let work: Dataset.Transform = { x, y in
        var t = x
        for _ in 0..<20 { t = (t * 1.0001).tanh() + x }
        return (t, y)
    }

    @Test func parallelMapEqualsTheSequentialMapInOrderAndValue() throws {
        let base = try Self.numbered(53)
        for pipeline in [{ (d: Dataset) in d }, { $0.shuffle(seed: 4) }, { $0.shuffle(seed: 4).repeated(2) }] as [(Dataset) -> Dataset] {
            let sequential = try elements(pipeline(base).map(Self.work))
            #expect(sequential.count >= 53)
            for calls in [2, 3, 7, Dataset.autotune] {
                #expect(same(try elements(pipeline(base).map(numParallelCalls: calls, Self.work)), sequential), "numParallelCalls \(calls)")
            }
            // Batched after the map, and a per-batch parallel map.
            let batched = try elements(pipeline(base).map(Self.work).batch(5))
            #expect(same(try elements(pipeline(base).map(numParallelCalls: 3, Self.work).batch(5)), batched))
            let perBatch = try elements(pipeline(base).batch(5).map(Self.work))   // vector kernels: not bit-equal to per-sample
            #expect(same(try elements(pipeline(base).batch(5).map(numParallelCalls: 2, Self.work)), perBatch))
        }
        // An error comes at its element, after the ones before it.
        let failing = base.map(numParallelCalls: 4) { x, y in
            if y!.asArray(Int32.self)[0] == 9 { throw LaminaError.value("element 9") }
            return (x, y)
        }
        let it = try failing.makeIterator()
        for i in 0..<9 { #expect(try it.next()?.y?.asArray(Int32.self) == [Int32(i)]) }
        #expect { _ = try it.next() } throws: { ($0 as? LaminaError)?.message == "element 9" }
        #expect(throws: LaminaError.self) { _ = try base.map(numParallelCalls: 0, Self.work).makeIterator() }
    }

    /// The transforms really run side by side: with 2 calls, two of them are seen inside at once.
    @Test func parallelMapRunsCallsConcurrently() throws {
        guard ThreadCount.current >= 2 || ProcessInfo.processInfo.activeProcessorCount >= 2 else { return }
        let inside = Count(), most = Count()
        let d = try Self.numbered(16).map(numParallelCalls: 2) { x, y in
            let now = inside.value.add(1, ordering: .sequentiallyConsistent).newValue
            _ = most.value.max(now, ordering: .sequentiallyConsistent)
            Thread.sleep(forTimeInterval: 0.01)
            inside.value.subtract(1, ordering: .sequentiallyConsistent)
            return (x, y)
        }
        #expect(try elements(d).count == 16)
        #expect(most.count == 2)
    }

    @Test func filterKeepsMatchingElementsAndFitRunsToTheEnd() throws {
        let d = try Self.numbered(20).filter { _, y in y!.asArray(Int32.self)[0] % 3 == 0 }
        #expect(try elements(d).map(\.1) == [0, 3, 6, 9, 12, 15, 18].map { [Int32($0)] })
        #expect(d.cardinality == nil && !d.isInfinite)
        #expect(try elements(d.batch(3)).map(\.1) == [[0, 3, 6], [9, 12, 15], [18]])
        // fit over a dataset of unknown length: every batch of each pass, each epoch.
        let model = Sequential([Input(shape: [2]), Dense(1)])
        model.compile(optimizer: SGD(learningRate: 0.01), loss: .meanSquaredError)
        let steps = StepCounter()
        _ = try model.fit(Self.numbered(20).filter { _, y in y!.asArray(Int32.self)[0] % 3 == 0 }
            .map { x, y in (x * 0.1, y.map { Tensor(shape: [1], scalars: [Float($0.asArray(Int32.self)[0]) * 0.1]) }) }.batch(3),
            epochs: 2, verbose: 0, callbacks: [steps])
        #expect(steps.batches == [3, 3])
    }

    @Test func cacheReplaysTheFirstCompletePass() throws {
        let calls = Count()
        let d = try Self.numbered(12).map { x, y in calls.value.add(1, ordering: .relaxed); return (x * 2, y) }.cache()
        let first = try elements(d)
        #expect(calls.count == 12)
        let shuffled = try elements(d.shuffle(seed: 1).batch(12).unbatch()).sorted { $0.1[0] < $1.1[0] }
        #expect(same(try elements(d), first) && same(shuffled, first))
        #expect(calls.count == 12)   // later passes, shuffled or not, read the cache
        // A pass stopped early caches nothing.
        let partial = try Self.numbered(12).map { x, y in calls.value.add(1, ordering: .relaxed); return (x, y) }.cache()
        calls.value.store(0, ordering: .relaxed)
        let it = try partial.makeIterator()
        _ = try it.next(); it.cancel()
        #expect(try elements(partial).count == 12 && elements(partial).count == 12)
        #expect(calls.count == 13)   // 1 of the stopped pass + 12 of the complete one
    }

    @Test func unbatchUndoesBatch() throws {
        let d = try Self.numbered(10)
        #expect(same(try elements(d.batch(4).unbatch()), try elements(d)))
        #expect(d.batch(4).unbatch().isBatched == false)
        #expect(throws: LaminaError.self) { _ = try elements(d.unbatch()) }   // single samples: their scalar labels are no batch
    }

    @Test func shardsPartitionTheDataset() throws {
        let d = try Self.numbered(10)
        var seen: [Int32] = []
        for index in 0..<3 {
            let shard = d.shard(count: 3, index: index)
            let labels = try elements(shard).map { $0.1[0] }
            #expect(labels == Array(stride(from: Int32(index), to: 10, by: 3)))
            #expect(shard.cardinality == labels.count)
            // After a stage without random access, the same elements.
            #expect(try elements(d.map(Self.work).shard(count: 3, index: index)).map { $0.1[0] } == labels)
            seen += labels
        }
        #expect(seen.sorted() == (0..<10).map { Int32($0) })
        #expect(throws: LaminaError.self) { _ = try d.shard(count: 3, index: 3).makeIterator() }
        #expect(try elements(d.shard(count: 2, index: 1).batch(2)).map(\.1) == [[1, 3], [5, 7], [9]])
    }

    @Test func zipPairsInputsWithLabels() throws {
        let xs = try Dataset.fromTensors(Tensor(shape: [5, 2], scalars: (0..<10).map(Float.init)))
        let ys = try Dataset.fromTensors(Tensor(shape: [4], scalars: [Int32](arrayLiteral: 7, 8, 9, 10)))
        let pairs = try elements(Dataset.zip(xs, ys))
        #expect(pairs.map(\.0) == [[0, 1], [2, 3], [4, 5], [6, 7]] && pairs.map(\.1) == [[7], [8], [9], [10]])
        #expect(Dataset.zip(xs, ys).cardinality == 4)
        #expect(throws: LaminaError.self) { _ = try elements(Dataset.zip(try Self.numbered(3), ys)) }
    }

    struct InterleaveFixture: Decodable {
        struct Case: Decodable { let cycle: Int, block: Int, order: [Int] }
        let cases: [Case]
    }

    @Test func interleaveMatchesTFData() throws {
        let url = laminaFixtures.appendingPathComponent("interleave_tfdata.json")
        let fixture = try JSONDecoder().decode(InterleaveFixture.self, from: Data(contentsOf: url))
        #expect(fixture.cases.count == 7)
        let starts = try Dataset.fromTensors(Tensor(shape: [5], scalars: (1...5).map(Float.init)))
        for c in fixture.cases {
            let d = starts.interleave(cycleLength: c.cycle, blockLength: c.block) { x, _ in
                let v = Int(x.asArray(Float.self)[0])
                return try Dataset.fromTensors(Tensor(shape: [v], scalars: (0..<v).map { Float(10 * v + $0) }))
            }
            #expect(try elements(d).map { Int($0.0[0]) } == c.order, "cycle \(c.cycle), block \(c.block)")
        }
        #expect(throws: LaminaError.self) { _ = try starts.interleave(blockLength: 0) { x, y in try Dataset.fromTensors(x) }.makeIterator() }
    }

    /// fit over a shuffled, parallel-mapped, prefetched pipeline is the fit over tensors, bit for bit.
    @Test func seededFitOverAParallelPipelineIsTheTensorFit() throws {
        let x = Tensor.randomNormal([40, 4], seed: 2), y = Tensor(shape: [40], scalars: (0..<40).map { Int32($0 % 3) })
        func model() -> Sequential {
            let m = Lamina.withRandomSeed(5) { Sequential([Dense(8, activation: .relu, inputShape: [4]), Dense(3, activation: .softmax)]) }
            m.compile(optimizer: Adam(learningRate: 1e-2), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
            return m
        }
        let a = model(), b = model()
        let ha = try Lamina.withRandomSeed(7) { try a.fit(x * 0.5, y, epochs: 3, batchSize: 8, verbose: 0) }
        let data = try Dataset.fromTensors(x, y)
        let hb = try Lamina.withRandomSeed(7) {
            try b.fit(data.shuffle().map(numParallelCalls: Dataset.autotune) { x, y in (x * 0.5, y) }.batch(8).prefetch(2),
                      epochs: 3, verbose: 0)
        }
        // The same through a sequential map (the batch stage once drew a second, different shuffle here).
        let c = model()
        let hc = try Lamina.withRandomSeed(7) { try c.fit(data.shuffle().map { x, y in (x * 0.5, y) }.batch(8), epochs: 3, verbose: 0) }
        #expect(ha.history["loss"] == hc.history["loss"])
        #expect(ha.history["loss"] == hb.history["loss"] && ha.history["accuracy"] == hb.history["accuracy"])
        for (u, v) in zip(a.getWeights(), b.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
    }

    /// predict's progress bar (tensors, and a dataset of unknown length) leaves the outputs as they are.
    @Test func predictWithProgressGivesTheSameOutputs() throws {
        let model = Sequential([Input(shape: [2]), Dense(3)])
        let x = Tensor.randomNormal([10, 2], seed: 1)
        let quiet = try model.predict(x, batchSize: 4).asArray(Float.self)
        #expect(try model.predict(x, batchSize: 4, verbose: 1).asArray(Float.self) == quiet)
        let unknown = try Dataset.fromTensors(x).filter { _, _ in true }.batch(4)
        #expect(try model.predict(unknown, verbose: 1).asArray(Float.self) == quiet)
    }

    @Test func progbarCountsKnownAndUnknownTargets() {
        var known = Progbar(target: 4, verbose: 2, unitName: "file")
        known.update(2, values: ["loss": 0.5])
        #expect(known.finishedLine(["loss": 0.5]).hasPrefix("4/4 - ") && known.finishedLine(["loss": 0.5]).hasSuffix("/file - loss: 0.5000"))
        var unknown = Progbar(target: nil, verbose: 0)
        unknown.add(3)
        unknown.add(4)
        #expect(unknown.target == nil)
        unknown.update(7, finalize: true)
        #expect(unknown.target == 7)
    }
}

/// An atomic counter that closures can share.
final class Count: Sendable {
    let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .sequentiallyConsistent) }
}

/// Counts the batches of each epoch.
final class StepCounter: Callback, @unchecked Sendable {
    var batches: [Int] = []
    override func onEpochBegin(_ epoch: Int) throws { batches.append(0) }
    override func onBatchEnd(_ batch: Int, logs: [String: Double]) throws { batches[batches.count - 1] += 1 }
}
