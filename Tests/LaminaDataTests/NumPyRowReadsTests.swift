import Foundation
import Testing
import LaminaTestSupport
import Lamina
@testable import LaminaData

/// Batches read by rows from `.npy` files (`MemoryMappedNumPy`): every way of reading gives the
/// rows of the array as loaded whole, in the batch's order, whatever the order of the indices.
@Suite struct NumPyRowReadsTests {
    static let allReads: [MemoryMappedNumPy.Reads] = [.positioned, .mapped(releaseBytes: nil), .mapped(releaseBytes: 1)]

    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-npyreads-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Sorting a batch's indices and merging them into runs: file rows and batch slots that
    /// both follow on make one run; a shuffled batch keeps one run per row.
    @Test func runsFollowFileAndBatchOrder() {
        typealias Run = MemoryMappedNumPy.Run
        #expect(MemoryMappedNumPy.runs([4, 5, 6, 7]) == [Run(row: 4, slot: 0, rows: 4)])
        #expect(MemoryMappedNumPy.runs([9, 2, 3, 0]) == [Run(row: 0, slot: 3, rows: 1), Run(row: 2, slot: 1, rows: 2), Run(row: 9, slot: 0, rows: 1)])
        // Adjacent in the file but not in the batch: two runs (the batch order is kept).
        #expect(MemoryMappedNumPy.runs([3, 2]) == [Run(row: 2, slot: 1, rows: 1), Run(row: 3, slot: 0, rows: 1)])
        // A repeated row is read once per slot.
        #expect(MemoryMappedNumPy.runs([5, 5, 6]) == [Run(row: 5, slot: 0, rows: 1), Run(row: 5, slot: 1, rows: 2)])
        #expect(MemoryMappedNumPy.runs([]) == [])
    }

    /// Shuffled, sorted, repeated and single-row batches equal the loaded array's rows for
    /// float32, float64 and int32 files, in each way of reading; a batch large enough to be
    /// gathered on several threads too.
    @Test func rowsEqualTheLoadedArray() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rows = 700
        let x = Tensor.randomNormal([rows, 3, 5], seed: 11)
        let x64 = x.cast(to: .float64)
        let labels = Tensor(shape: [rows, 2], scalars: (0..<(2 * rows)).map { Int32($0 * 7919 % 1009) - 500 })
        try NumPy.save(x, to: dir.appendingPathComponent("x.npy"))
        try NumPy.save(x64, to: dir.appendingPathComponent("x64.npy"))
        try NumPy.save(labels, to: dir.appendingPathComponent("y.npy"))
        var generator = RandomGenerator(seed: 3)
        var shuffled = Array(0..<rows)
        shuffled.shuffle(using: &generator)
        let batches: [[Int]] = [Array(shuffled.prefix(64)), Array(100..<164), [5, 5, 6, 4, 699, 0], [42], shuffled, Array(0..<rows)]
        for reads in Self.allReads {
            let (fx, f64, fy) = (try MemoryMappedNumPy(dir.appendingPathComponent("x.npy").path, reads: reads),
                                 try MemoryMappedNumPy(dir.appendingPathComponent("x64.npy").path, reads: reads),
                                 try MemoryMappedNumPy(dir.appendingPathComponent("y.npy").path, reads: reads))
            #expect(fx.shape == [rows, 3, 5] && !fx.isInteger && fy.isInteger)
            for indices in batches {
                let expected = x.gather(rows: indices)
                let got = try fx.rows(indices)
                #expect(got.shape == [indices.count, 3, 5])
                #expect(got.asArray(Float.self) == expected.asArray(Float.self), "\(reads), \(indices.count) rows")
                #expect(try f64.rows(indices).asArray(Float.self) == expected.asArray(Float.self))
                #expect(try fy.rows(indices).asArray(Int32.self) == labels.gather(rows: indices).asArray(Int32.self))
            }
        }
        // 700 rows of 60 bytes is under the threshold for threads; 2,000 rows of 3,136 bytes is over.
        let big = Tensor.randomUniform([2000, 784], seed: 5)
        try NumPy.save(big, to: dir.appendingPathComponent("big.npy"))
        #expect(2000 * 784 * 4 >= MemoryMappedNumPy.parallelGatherBytes)
        var order = Array(0..<2000)
        order.shuffle(using: &generator)
        for reads in Self.allReads {
            let file = try MemoryMappedNumPy(dir.appendingPathComponent("big.npy").path, reads: reads)
            #expect(try file.rows(order).asArray(Float.self) == big.gather(rows: order).asArray(Float.self))
            file.willRead(Array(order.prefix(256)) + [-1, 5000])   // a hint only; bad indices are skipped
        }
    }

    /// Bad indices, a file cut short after it was opened, and a bad release size are thrown
    /// errors that name the file.
    @Test func badReadsThrow() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.npy")
        try NumPy.save(Tensor.randomNormal([50, 4], seed: 1), to: url)
        let file = try MemoryMappedNumPy(url.path)
        let outOfRange = #expect(throws: LaminaError.self) { _ = try file.rows([3, 50]) }
        #expect(outOfRange?.message.contains("row 50 is out of 0..<50") == true)
        #expect(throws: LaminaError.self) { _ = try file.rows([-1]) }
        #expect(throws: LaminaError.self) { _ = try MemoryMappedNumPy(url.path, reads: .mapped(releaseBytes: 0)) }
        // Truncated under the reader: positioned reads see the end of the file and throw.
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 128 + 10 * 16)
        try handle.close()
        #expect(try file.rows([0, 9]).shape == [2, 4])
        let cut = #expect(throws: LaminaError.self) { _ = try file.rows([2, 30]) }
        #expect(cut?.message.contains("x.npy") == true && cut?.message.contains("truncated") == true)
    }

    /// A shuffled, batched, prefetched pipeline over the files (with read-ahead, in each way of
    /// reading) yields the batches of the same pipeline over the tensors.
    @Test func pipelinesEqualTensorPipelines() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let x = Tensor.randomNormal([103, 6], seed: 8), y = Tensor(shape: [103], scalars: (0..<103).map { Int32($0 % 10) })
        try NumPy.save(x, to: dir.appendingPathComponent("x.npy"))
        try NumPy.save(y, to: dir.appendingPathComponent("y.npy"))
        for reads in Self.allReads {
            for readAhead in [false, true] {
                let files = try Dataset.fromNumPy(x: dir.appendingPathComponent("x.npy").path, y: dir.appendingPathComponent("y.npy").path,
                                                  reads: reads, readAhead: readAhead)
                let a = try files.shuffle(seed: 4).batch(10).prefetch(2).makeIterator()
                let b = try Dataset.fromTensors(x, y).shuffle(seed: 4).batch(10).makeIterator()
                var count = 0
                while let (fx, fy) = try a.next() {
                    let (tx, ty) = try #require(try b.next())
                    #expect(fx.asArray(Float.self) == tx.asArray(Float.self) && fy?.asArray(Int32.self) == ty?.asArray(Int32.self))
                    count += 1
                }
                let after = try b.next()
                #expect(count == 11 && after == nil)
            }
        }
    }
}
