import Lamina
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `.npy` array on disk read a few rows at a time, so arrays larger than RAM can feed training.
/// Rows come back as float32 (integer arrays as int32, for labels).
///
/// A batch's rows are gathered in file order (the indices sorted, the batch's own order kept in
/// the result), rows that are adjacent in the file and in the batch are read at once, and a
/// large batch is split across Lamina's threads. How the bytes come from the kernel's page cache
/// is `reads`:
/// - `.positioned` (the default): `pread` straight into the batch. Nothing is mapped, so the
///   process's resident memory stays at the batch's size however large the file is.
/// - `.mapped(releaseBytes:)`: the file is mapped and rows are copied from the mapping; every
///   `releaseBytes` of rows read (nil: never) the mapping's pages are handed back with
///   `madvise(MADV_DONTNEED)`, which keeps the mapped pages out of the resident set.
///
/// Measured on a shuffled pass over 600,000 rows of 3,136 bytes (a 1.9 GB file in the page
/// cache, 2-core EPYC, Linux 6.18; Benchmarks/results/npy_reads.md): positioned reads cost
/// about 2× a copy from memory per row; mapped reads with a release every 64 MB cost 5–8×
/// (each fault maps a whole large folio, and every release throws that away); mapped reads
/// with no release are as fast as positioned ones once the pages are mapped, but the whole
/// file becomes resident. So the default leaves the caching to the page cache and maps nothing.
public final class MemoryMappedNumPy: @unchecked Sendable {
    // `@unchecked`: the descriptor and mapping are read-only and fixed for the object's life;
    // `touched` is a `Locked` counter.
    /// The `.npy` file.
    public let path: String
    /// The array's shape; the first axis indexes rows (samples).
    public let shape: [Int]
    /// How rows are read from the file.
    public enum Reads: Sendable, Equatable {
        /// `pread` into the batch (no mapping, resident memory stays small).
        case positioned
        /// Copies from a mapping of the file whose pages are released every `releaseBytes` of
        /// rows read (nil: never, and the whole file may become resident).
        case mapped(releaseBytes: Int?)
    }
    /// How this file's rows are read.
    public let reads: Reads
    let header: NumPy.Header
    private let fd: Int32
    private let base: UnsafeMutableRawPointer?, length: Int
    private let rowElements: Int, rowBytes: Int
    private let touched = Locked(0)
    /// Bytes read between two releases of the mapping's pages in `.mapped` reads.
    public static let releaseBytes = 64 << 20
    /// A batch of at least this many bytes is gathered on Lamina's threads (smaller ones on the
    /// calling thread: splitting a 256-row MNIST batch of 800 KB already halves its time on an
    /// idle 2-core machine, below that the hand-off costs what it saves).
    static let parallelGatherBytes = 512 << 10

    /// Opens the `.npy` file at `path` for reading rows (`reads`: positioned reads, or a mapping);
    /// throws for a missing, malformed or non-numeric file.
    public init(_ path: String, reads: Reads = .positioned) throws {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(path): \(why)") }
        if case .mapped(let release?) = reads, release <= 0 {
            throw LaminaError.value("\(path): releaseBytes must be positive, got \(release)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("cannot open (\(String(cString: strerror(errno))))") }
        var keep = false
        defer { if !keep { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("cannot stat") }
        let size = Int(info.st_size)
        var prefix = [UInt8](repeating: 0, count: min(size, 1 << 16))
        guard pread(fd, &prefix, prefix.count, 0) == prefix.count else { throw fail("cannot read the header") }
        let header = try NumPy.header(prefix, name: path)
        guard !header.fortran || header.shape.count <= 1 else { throw fail("Fortran-ordered arrays cannot be read by rows; save with np.ascontiguousarray") }
        guard let rows = header.shape.first, rows > 0 else { throw fail("the array has no rows (shape \(header.shape))") }
        let (needed, overflow) = header.count.multipliedReportingOverflow(by: header.kind.size)
        guard !overflow, size - header.payload == needed else {
            throw fail("header promises \(header.count) values of '\(header.descr)' (\(needed) bytes), the file holds \(size - header.payload) bytes")
        }
        var mapping: UnsafeMutableRawPointer?
        if case .mapped = reads {
            guard let m = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), m != MAP_FAILED else {
                throw fail("cannot map (\(String(cString: strerror(errno))))")
            }
            mapping = m
        }
        keep = true
        (self.path, self.header, self.shape, self.reads, self.fd, base, length) = (path, header, header.shape, reads, fd, mapping, size)
        rowElements = header.count / rows
        rowBytes = rowElements * header.kind.size
    }

    deinit {
        if let base { munmap(base, length) }
        close(fd)
    }

    /// The number of rows (the first axis).
    public var count: Int { shape[0] }
    /// Whether rows come back as int32 (integer arrays) rather than float32.
    public var isInteger: Bool {
        switch header.kind {
        case .f4, .f8: false
        default: true
        }
    }

    /// Runs of a batch in file order: `rows` consecutive rows starting at file row `row` that go
    /// to consecutive batch positions starting at `slot`.
    struct Run: Equatable { var row: Int, slot: Int, rows: Int }

    /// The batch's rows sorted by their place in the file, merged into runs where both the file
    /// rows and the batch positions follow on (an unshuffled batch is one run).
    static func runs(_ indices: [Int]) -> [Run] {
        let order = indices.indices.sorted { (indices[$0], $0) < (indices[$1], $1) }
        var runs: [Run] = []
        runs.reserveCapacity(order.count)
        for slot in order {
            let row = indices[slot]
            if let last = runs.last, last.row + last.rows == row, last.slot + last.rows == slot {
                runs[runs.count - 1].rows += 1
            } else {
                runs.append(Run(row: row, slot: slot, rows: 1))
            }
        }
        return runs
    }

    /// The rows at `indices`, stacked: `[indices.count] + shape.dropFirst()`.
    public func rows(_ indices: [Int]) throws -> Tensor {
        for i in indices where i < 0 || i >= count {
            throw LaminaError.value("\(path): row \(i) is out of 0..<\(count)")
        }
        let outShape = [indices.count] + Array(shape.dropFirst())
        let runs = Self.runs(indices)
        let failure = Locked<(any Error)?>(nil)
        let integer = isInteger
        let out = integer ? Tensor.build(outShape, as: Int32.self) { dst in
            gather(runs, into: UnsafeMutableRawPointer(dst.baseAddress!), elementSize: 4, failure: failure)
        } : Tensor.build(outShape, as: Float.self) { dst in
            gather(runs, into: UnsafeMutableRawPointer(dst.baseAddress!), elementSize: 4, failure: failure)
        }
        if let error = failure.withLock({ $0 }) { throw error }
        if case .mapped(let release?) = reads, let base {
            // A page fault maps the pages around it too (fault-around, or the whole large folio),
            // so a shuffled read makes up to 64 KB resident per row: count that, not the row.
            let due = touched.withLock { touched -> Bool in
                touched += indices.count * max(rowBytes, 64 << 10)
                guard touched >= release else { return false }
                touched = 0
                return true
            }
            if due { _ = madvise(base, length, Int32(MADV_DONTNEED)) }
        }
        return out
    }

    /// Copies `runs` into `out` (rows of `rowElements` values of `elementSize` bytes), on
    /// Lamina's threads when the batch is large; the first error is left in `failure`.
    private func gather(_ runs: [Run], into out: UnsafeMutableRawPointer, elementSize: Int, failure: Locked<(any Error)?>) {
        let rowsTotal = runs.reduce(0) { $0 + $1.rows }
        let nativeRows: Bool
        switch header.kind {
        case .f4, .i4: nativeRows = true
        default: nativeRows = false
        }
        let copy = { (range: Range<Int>) in
            var scratch: [UInt8] = []
            for run in runs[range] {
                let destination = out + run.slot * self.rowElements * elementSize
                do {
                    if nativeRows {
                        try self.read(run, into: destination)
                    } else {
                        scratch.removeAll(keepingCapacity: true)
                        scratch.append(contentsOf: repeatElement(0, count: run.rows * self.rowBytes))
                        try scratch.withUnsafeMutableBytes { try self.read(run, into: $0.baseAddress!) }
                        scratch.withUnsafeBytes { self.convert($0, rows: run.rows, into: destination) }
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    return
                }
            }
        }
        if rowsTotal * rowBytes >= Self.parallelGatherBytes && runs.count > 1 {
            Kernels.parallelFor(runs.count, grain: max(1, runs.count / ThreadCount.current), copy)
        } else {
            copy(0..<runs.count)
        }
    }

    /// Reads the file bytes of `run` (raw, as stored) into `destination`.
    private func read(_ run: Run, into destination: UnsafeMutableRawPointer) throws {
        let bytes = run.rows * rowBytes, offset = header.payload + run.row * rowBytes
        if let base {
            destination.copyMemory(from: base + offset, byteCount: bytes)
            return
        }
        var done = 0
        while done < bytes {
            let got = pread(fd, destination + done, bytes - done, off_t(offset + done))
            if got > 0 { done += got; continue }
            if got < 0 && errno == EINTR { continue }
            throw LaminaError(.io, "\(path): cannot read rows \(run.row)..<\(run.row + run.rows) (" + (got == 0 ? "the file was truncated" : String(cString: strerror(errno))) + ")")
        }
    }

    /// Converts `rows` rows stored as the file's element type into float32 or int32 values.
    private func convert(_ raw: UnsafeRawBufferPointer, rows: Int, into destination: UnsafeMutableRawPointer) {
        let n = rows * rowElements, kind = header.kind
        if isInteger {
            let dst = destination.bindMemory(to: Int32.self, capacity: n)
            for j in 0..<n { dst[j] = kind.integer(raw, j) }
        } else {
            let dst = destination.bindMemory(to: Float.self, capacity: n)
            for j in 0..<n { dst[j] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * j, as: UInt64.self).littleEndian)) }
        }
    }

    /// Asks the kernel to start reading the rows at `indices` into its page cache
    /// (`posix_fadvise(WILLNEED)` per run) and returns at once: the read-ahead for the next
    /// batch of a file that is not cached yet.
    public func willRead(_ indices: [Int]) {
        for run in Self.runs(indices.filter { (0..<count).contains($0) }) {
            _ = posix_fadvise(fd, off_t(header.payload + run.row * rowBytes), off_t(run.rows * rowBytes), POSIX_FADV_WILLNEED)
        }
    }
}

extension NumPy.Element {
    /// Element `j` of an integer row as int32 (values outside int32 are clamped).
    func integer(_ row: UnsafeRawBufferPointer, _ j: Int) -> Int32 {
        switch self {
        case .i4: return Int32(littleEndian: row.loadUnaligned(fromByteOffset: 4 * j, as: Int32.self))
        case .bool: return row[j] != 0 ? 1 : 0
        case .wide(let size, let signed):
            var bits: UInt64 = 0
            for b in 0..<size { bits |= UInt64(row[j * size + b]) << UInt64(8 * b) }
            if signed, size < 8, bits >> UInt64(8 * size - 1) & 1 == 1 { bits |= ~((1 << UInt64(8 * size)) - 1) }
            let value = signed ? Int64(bitPattern: bits) : Int64(clamping: bits)
            return Int32(clamping: value)
        case .f4, .f8, .object: return 0
        }
    }
}

/// Samples from `.npy` files read by rows: inputs, and labels with as many rows.
public struct NumPySource: DataSource {
    /// The inputs' file and the labels' file, if any.
    public let x: MemoryMappedNumPy, y: MemoryMappedNumPy?
    /// Whether `prepare` asks the kernel to read the next batch's rows ahead.
    public let readAhead: Bool
    /// Samples from the `.npy` file at `x` with labels from the one at `y` (same row count).
    public init(x: String, y: String? = nil, reads: MemoryMappedNumPy.Reads = .positioned, readAhead: Bool = false) throws {
        let inputs = try MemoryMappedNumPy(x, reads: reads), labels = try y.map { try MemoryMappedNumPy($0, reads: reads) }
        if let labels, labels.count != inputs.count {
            throw LaminaError.shape("\(labels.path) has \(labels.count) rows, \(inputs.path) has \(inputs.count)")
        }
        (self.x, self.y, self.readAhead) = (inputs, labels, readAhead)
    }
    /// The number of samples.
    public var count: Int { x.count }
    /// The rows at `indices` of both files.
    public func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) { (try x.rows(indices), try y?.rows(indices)) }
    /// Asks the kernel to read the rows at `indices` ahead (with `readAhead`).
    public func prepare(_ indices: [Int]) {
        guard readAhead else { return }
        x.willRead(indices)
        y?.willRead(indices)
    }
}

extension Dataset {
    /// `.npy` files read by rows as batches need them (`numpy.save` / `np.lib.format.open_memmap`
    /// write them): inputs as float32, labels as int32 or float32. Arrays larger than RAM are
    /// fine. `reads` chooses positioned reads (the default) or a mapping (see
    /// `MemoryMappedNumPy`); `readAhead` asks the kernel for the next batch's rows while the
    /// current one is used — worth it for a file on disk, not in the page cache.
    public static func fromNumPy(x: String, y: String? = nil, reads: MemoryMappedNumPy.Reads = .positioned,
                                 readAhead: Bool = false) throws -> Dataset {
        Dataset(try NumPySource(x: x, y: y, reads: reads, readAhead: readAhead))
    }
}
