import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

@Suite struct DatasetTests {
    static func data(_ n: Int = 20) -> (Tensor, Tensor) {
        (Tensor.randomNormal([n, 3], seed: 1), Tensor(shape: [n], scalars: (0..<n).map { Int32($0) }))
    }
    /// The label column of every element of one pass.
    func labels(_ dataset: Dataset) throws -> [[Int32]] {
        let iterator = try dataset.makeIterator()
        var out: [[Int32]] = []
        while let (_, y) = try iterator.next() { out.append(y!.asArray(Int32.self)) }
        return out
    }

    @Test func orderBatchesRepeatAndTake() throws {
        let (x, y) = Self.data(10)
        let d = try Dataset.fromTensors(x, y)
        #expect(try labels(d.batch(4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])      // the last batch is partial
        #expect(try labels(d.batch(4, dropRemainder: true)) == [[0, 1, 2, 3], [4, 5, 6, 7]])
        #expect(try labels(d.batch(4).repeated(2)).count == 6 && d.batch(4).repeated(2).cardinality == 6)
        #expect(try labels(d.batch(3).take(2)) == [[0, 1, 2], [3, 4, 5]] && d.batch(3).take(2).cardinality == 2)
        #expect(try labels(d.repeated(2).batch(7)) == [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 1, 2, 3], [4, 5, 6, 7, 8, 9]])
        #expect(d.batch(4).repeated().cardinality == nil && d.batch(4).repeated().isInfinite && d.batch(4).repeated().take(5).cardinality == 5)
        // Per-sample and per-batch maps.
        let doubled = d.map { x, y in (x * 2, y) }.batch(10)
        let (dx, _) = try #require(try doubled.makeIterator().next())
        #expect(dx.asArray(Float.self) == (x * 2).asArray(Float.self))
        let counted = d.batch(5).map { x, y in (x, y.map { _ in Tensor(shape: [1], scalars: [Int32(x.shape[0])]) }) }
        #expect(try labels(counted) == [[5], [5]])
        #expect(throws: LaminaError.self) { _ = try d.batch(0).makeIterator() }
        #expect(throws: LaminaError.self) { _ = try d.take(-1).makeIterator() }
    }

    @Test func shufflesArePermutationsAndSeeded() throws {
        let (x, y) = Self.data(50)
        let d = try Dataset.fromTensors(x, y)
        let a = try labels(d.shuffle(seed: 3).batch(50))[0], b = try labels(d.shuffle(seed: 3).batch(50))[0]
        #expect(a == b && a != Array(0..<50) && a.sorted() == Array(0..<50))
        // Each pass (epoch) draws a new order from the default generator.
        let unseeded = d.shuffle().batch(50)
        let (p1, p2) = try Lamina.withRandomSeed(9) { (try labels(unseeded)[0], try labels(unseeded)[0]) }
        #expect(p1 != p2 && p1.sorted() == p2.sorted())
        // After a stage without random access: a seeded buffer shuffle of every element.
        let buffered = try labels(d.take(30).shuffle(bufferSize: 8, seed: 1).batch(30))[0]
        #expect(buffered.sorted() == Array(0..<30) && buffered != Array(0..<30))
        #expect(buffered == (try labels(d.take(30).shuffle(bufferSize: 8, seed: 1).batch(30))[0]))
    }

    /// fit over `fromTensors(x, y).shuffle().batch(n)` is bit-identical to fit(x, y, batchSize: n),
    /// with and without prefetching; evaluate and predict agree too.
    @Test func seededFitIsBitIdenticalToTheTensorPath() throws {
        let x = Tensor.randomNormal([40, 4], seed: 2), y = Tensor(shape: [40], scalars: (0..<40).map { Int32($0 % 3) })
        func model() -> Sequential {
            let m = Lamina.withRandomSeed(5) { Sequential([Dense(8, activation: .relu, inputShape: [4]), Dropout(0.3), Dense(3, activation: .softmax)]) }
            m.compile(optimizer: Adam(learningRate: 1e-2), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
            return m
        }
        let a = model(), b = model(), c = model()
        let ha = try Lamina.withRandomSeed(7) { try a.fit(x, y, epochs: 3, batchSize: 8, verbose: 0, validationData: (x, y)) }
        let data = try Dataset.fromTensors(x, y)
        let hb = try Lamina.withRandomSeed(7) {
            try b.fit(data.shuffle().batch(8), epochs: 3, verbose: 0, validationData: data.batch(8))
        }
        let hc = try Lamina.withRandomSeed(7) {
            try c.fit(data.shuffle().batch(8).prefetch(3), epochs: 3, verbose: 0, validationData: data.batch(8).prefetch())
        }
        for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
            #expect(ha.history[key] == hb.history[key] && hb.history[key] == hc.history[key], "\(key)")
        }
        for (u, (v, w)) in zip(a.getWeights(), zip(b.getWeights(), c.getWeights())) {
            #expect(u.asArray(Float.self) == v.asArray(Float.self) && v.asArray(Float.self) == w.asArray(Float.self))
        }
        let (l1, m1) = try a.evaluate(x, y, batchSize: 8), (l2, m2) = try a.evaluate(data.batch(8))
        #expect(l1 == l2 && m1 == m2)
        #expect(try a.predict(x, batchSize: 8).asArray(Float.self) == a.predict(data.batch(8)).asArray(Float.self))
    }

    /// stepsPerEpoch takes batches from one pass that carries on across epochs; running out
    /// stops training with a warning; an endless dataset needs stepsPerEpoch.
    @Test func stepsPerEpochCarriesOnAcrossEpochs() throws {
        let (x, y) = Self.data(40)
        let m = Sequential([Dense(3, inputShape: [3]), Activation(.softmax)])
        m.compile(optimizer: SGD(learningRate: 0.01), loss: .sparseCategoricalCrossentropy)
        let data = try Dataset.fromTensors(x, Tensor(shape: [40], scalars: (0..<40).map { Int32($0 % 3) })).batch(4)   // 10 batches
        var batches = 0
        let counter = LambdaCallback(onBatchEnd: { _, _ in batches += 1 })
        try m.fit(data, epochs: 2, stepsPerEpoch: 4, verbose: 0, callbacks: [counter])
        #expect(batches == 8)
        batches = 0
        let history = try m.fit(data, epochs: 4, stepsPerEpoch: 4, verbose: 0, callbacks: [counter])
        #expect(batches == 10 && history.history["loss"]?.count == 3, "ran out in the third epoch")
        batches = 0
        try m.fit(data.repeated(), epochs: 3, stepsPerEpoch: 5, verbose: 0, callbacks: [counter])
        #expect(batches == 15)
        let endless = #expect(throws: LaminaError.self) { try m.fit(data.repeated(), epochs: 1, verbose: 0) }
        #expect(endless?.message.contains("give stepsPerEpoch") == true)
        let unbatched = #expect(throws: LaminaError.self) { try m.fit(try Dataset.fromTensors(x, y), verbose: 0) }
        #expect(unbatched?.message.contains("add .batch(n)") == true)
    }

    /// Memory-mapped .npy files give the same batches as the arrays; integers become int32.
    @Test func memoryMappedNumPyFiles() throws {
        let dir = temporaryDirectory()
        let x = Tensor.randomNormal([30, 2, 3], seed: 4), y = Tensor(shape: [30], scalars: (0..<30).map { Int32($0 * 7 % 11) })
        try NumPy.save(x, to: dir.appendingPathComponent("x.npy"))
        try NumPy.save(y, to: dir.appendingPathComponent("y.npy"))
        let mapped = try Dataset.fromNumPy(x: dir.appendingPathComponent("x.npy").path, y: dir.appendingPathComponent("y.npy").path)
        let fromTensors = try Dataset.fromTensors(x, y)
        let (ia, ib) = (try mapped.shuffle(seed: 2).batch(7).makeIterator(), try fromTensors.shuffle(seed: 2).batch(7).makeIterator())
        var batches = 0
        while let (mx, my) = try ia.next() {
            let (tx, ty) = try #require(try ib.next())
            #expect(mx.shape == tx.shape && mx.asArray(Float.self) == tx.asArray(Float.self) && my!.asArray(Int32.self) == ty!.asArray(Int32.self))
            batches += 1
        }
        #expect(batches == 5)
        // uint8 images (a common .npy) come back as integers; the model casts them.
        var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [0, 128, 255, 7]
        try Data(bytes).write(to: dir.appendingPathComponent("u8.npy"))
        #expect(try MemoryMappedNumPy(dir.appendingPathComponent("u8.npy").path).rows([1, 0]).asArray(Int32.self) == [255, 7, 0, 128])
        // Errors name the file.
        try NumPy.save(y.sliced(axis: 0, 0..<29), to: dir.appendingPathComponent("short.npy"))
        let mismatch = #expect(throws: LaminaError.self) {
            _ = try Dataset.fromNumPy(x: dir.appendingPathComponent("x.npy").path, y: dir.appendingPathComponent("short.npy").path)
        }
        #expect(mismatch?.message.contains("short.npy has 29 rows") == true)
        #expect(throws: LaminaError.self) { _ = try MemoryMappedNumPy(dir.appendingPathComponent("missing.npy").path) }
        try Data(try Data(contentsOf: dir.appendingPathComponent("x.npy")).prefix(100)).write(to: dir.appendingPathComponent("cut.npy"))
        let cut = #expect(throws: LaminaError.self) { _ = try MemoryMappedNumPy(dir.appendingPathComponent("cut.npy").path) }
        #expect(cut?.message.contains("cut.npy") == true)
    }

    /// A failing map surfaces through prefetch; a cancelled prefetch stops its thread.
    @Test func prefetchPassesErrorsAndCancels() throws {
        let (x, y) = Self.data(20)
        let failing = try Dataset.fromTensors(x, y).batch(5).map { x, y in
            if y!.asArray(Int32.self)[0] == 10 { throw LaminaError.value("bad batch") }
            return (x, y)
        }.prefetch(2)
        let iterator = try failing.makeIterator()
        #expect(try iterator.next() != nil && iterator.next() != nil)
        let error = #expect(throws: LaminaError.self) { _ = try iterator.next() }
        #expect(error?.message == "bad batch")
        let endless = try Dataset.fromTensors(x, y).batch(5).repeated().prefetch(4).makeIterator()
        #expect(try endless.next() != nil)
        endless.cancel()
    }
}

/// padSequences equals keras.utils.pad_sequences (fixtures) for each padding and truncation.
@Test func padSequencesMatchesKeras() throws {
    for c in Fixture.keras.padSequences {
        let o = c.options
        let t = try padSequences(c.sequences, maxlen: o.maxlen, padding: SequenceEnd(rawValue: o.padding ?? "pre")!,
                                 truncating: SequenceEnd(rawValue: o.truncating ?? "pre")!, value: o.value ?? 0)
        #expect(t.shape == [c.output.count, c.output.first?.count ?? 0] && t.asArray(Int32.self) == c.output.flatMap { $0.map(Int32.init) },
                "\(o)")
    }
    #expect(throws: LaminaError.self) { _ = try padSequences([[1 << 40]]) }
}
