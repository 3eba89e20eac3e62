import Foundation
import Testing
import LaminaTestSupport
import Lamina
@testable import LaminaData

/// `enumerate(start:)`: each element with its position in the pass, on one thread or several.
@Suite struct EnumerateTests {
    /// Samples 0..<n: x = [i, -i] (float), y = i (int32).
    static func numbered(_ n: Int) throws -> Dataset {
        let x = Tensor(shape: [n, 2], scalars: (0..<n).flatMap { [Float($0), -Float($0)] })
        return try Dataset.fromTensors(x, Tensor(shape: [n], scalars: (0..<n).map { Int32($0) }))
    }

    func elements(_ d: Dataset) throws -> [([Float], [Int32])] {
        let it = try d.makeIterator()
        var out: [([Float], [Int32])] = []
        while let (x, y) = try it.next() { out.append((x.asArray(Float.self), y?.asArray(Int32.self) ?? [])) }
        return out
    }

    /// The positions count from `start` in the order elements arrive (after a seeded shuffle: the
    /// shuffled order), the same on 1, 3 and autotune threads; they start again each pass.
    @Test func positionsFollowThePass() throws {
        // x becomes [i, position]; y stays the sample number.
        let tag: Dataset.IndexedTransform = { i, x, y in
            (Tensor(shape: [2], scalars: [x.asArray(Float.self)[0], Float(i)]), y)
        }
        let plain = try elements(try Self.numbered(6).enumerate(start: 10, tag))
        let tagged: [[Float]] = (0..<6).map { i -> [Float] in [Float(i), Float(i + 10)] }
        #expect(plain.map(\.0) == tagged)
        // A new dataset each time: a seeded shuffle draws a new order with each pass of the same one.
        func shuffled() throws -> Dataset { try Self.numbered(50).shuffle(seed: 3) }
        let sequential = try elements(try shuffled().enumerate(tag))
        let positions: [Float] = (0..<50).map { Float($0) }
        #expect(sequential.map { $0.0[1] } == positions)
        let samples: [Int32] = sequential.map { $0.1[0] }
        #expect(Set(samples) == Set(0..<50) && samples != Array(0..<50))
        for calls in [3, Dataset.autotune] {
            let parallel = try elements(try shuffled().enumerate(numParallelCalls: calls, tag))
            #expect(parallel.map(\.0) == sequential.map(\.0) && parallel.map(\.1) == sequential.map(\.1), "numParallelCalls \(calls)")
        }
        // A second pass of `repeated(2)` counts from the start again; batching after keeps the count per sample.
        let twice = try elements(try Self.numbered(4).enumerate(start: 1, tag).repeated(2))
        let counted: [Float] = twice.map { $0.0[1] }
        #expect(counted == [1, 2, 3, 4, 1, 2, 3, 4])
        let batched = try elements(try Self.numbered(5).enumerate(numParallelCalls: 2, tag).batch(2))
        let batchValues: [[Float]] = batched.map(\.0)
        #expect(batchValues == [[0, 0, 1, 1], [2, 2, 3, 3], [4, 4]])
        #expect(try Self.numbered(5).enumerate(tag).batch(2).cardinality == 3)
    }

    /// A random augmentation seeded from the position gives the same fit on 1 thread and on
    /// several, bit for bit; an error is thrown at its element; bad numParallelCalls is refused.
    @Test func seededAugmentationRepeatsUnderParallelCalls() throws {
        let x = Tensor.randomNormal([48, 4], seed: 2), y = Tensor(shape: [48], scalars: (0..<48).map { Int32($0 % 3) })
        let jitter: Dataset.IndexedTransform = { i, x, y in (x + Tensor.randomNormal([4], stddev: 0.1, seed: UInt64(1000 + i)), y) }
        func train(_ calls: Int) throws -> [[Float]] {
            let m = Lamina.withRandomSeed(5) { Sequential([Dense(8, activation: .relu, inputShape: [4]), Dense(3, activation: .softmax)]) }
            m.compile(optimizer: Adam(learningRate: 1e-2), loss: .sparseCategoricalCrossentropy)
            try m.fit(try Dataset.fromTensors(x, y).shuffle(seed: 9).enumerate(numParallelCalls: calls, jitter).batch(8).prefetch(2),
                      epochs: 2, verbose: 0)
            return m.getWeights().map { $0.asArray(Float.self) }
        }
        let one = try train(1)
        #expect(try train(4) == one)
        #expect(try train(Dataset.autotune) == one)
        let failing = try Self.numbered(10).enumerate(numParallelCalls: 3) { i, x, y in
            if i == 6 { throw LaminaError.value("bad element \(i)") }
            return (x, y)
        }
        let it = try failing.makeIterator()
        for _ in 0..<6 { #expect(try it.next() != nil) }
        let error = #expect(throws: LaminaError.self) { _ = try it.next() }
        #expect(error?.message.contains("bad element 6") == true)
        it.cancel()
        #expect(throws: LaminaError.self) { _ = try Self.numbered(3).enumerate(numParallelCalls: 0) { _, x, y in (x, y) }.makeIterator() }
    }
}
