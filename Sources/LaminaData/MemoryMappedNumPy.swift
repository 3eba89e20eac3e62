import Lamina
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `.npy` array mapped into memory and read a few rows at a time, so arrays larger than RAM
/// can feed training. Rows come back as float32 (integer arrays as int32, for labels). The
/// mapping's pages are handed back to the kernel (`madvise(MADV_DONTNEED)`) whenever about
/// `releaseBytes` may have become resident (they stay in the page cache, not in the process's
/// resident memory), which keeps even a shuffled pass over a 2 GB file within tens of MB of RSS.
public final class MemoryMappedNumPy: @unchecked Sendable {
    // `@unchecked`: the mapping is read-only and fixed for the object's life; `touched` is a
    // `Locked` counter.
    /// The `.npy` file.
    public let path: String
    /// The array's shape; the first axis indexes rows (samples).
    public let shape: [Int]
    let header: NumPy.Header
    private let base: UnsafeMutableRawPointer, length: Int
    private let rowElements: Int, rowBytes: Int
    private let touched = Locked(0)
    /// Bytes read between two releases of the mapping's pages.
    public static let releaseBytes = 64 << 20

    /// Maps the `.npy` file at `path` read-only; throws for a missing, malformed or non-numeric file.
    public init(_ path: String) throws {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(path): \(why)") }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw fail("cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
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
        guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
            throw fail("cannot map (\(String(cString: strerror(errno))))")
        }
        (self.path, self.header, self.shape, base, length) = (path, header, header.shape, mapping, size)
        rowElements = header.count / rows
        rowBytes = rowElements * header.kind.size
    }

    deinit { munmap(base, length) }

    /// The number of rows (the first axis).
    public var count: Int { shape[0] }
    /// Whether rows come back as int32 (integer arrays) rather than float32.
    public var isInteger: Bool {
        switch header.kind {
        case .f4, .f8: false
        default: true
        }
    }

    /// The rows at `indices`, stacked: `[indices.count] + shape.dropFirst()`.
    public func rows(_ indices: [Int]) throws -> Tensor {
        for i in indices where i < 0 || i >= count {
            throw LaminaError.value("\(path): row \(i) is out of 0..<\(count)")
        }
        let outShape = [indices.count] + Array(shape.dropFirst())
        let payload = UnsafeRawPointer(base + header.payload)
        let kind = header.kind, n = rowElements, bytes = rowBytes
        let out: Tensor
        if isInteger {
            out = Tensor.build(outShape, as: Int32.self) { dst in
                for (k, i) in indices.enumerated() {
                    let row = UnsafeRawBufferPointer(start: payload + i * bytes, count: bytes)
                    for j in 0..<n { dst[k * n + j] = kind.integer(row, j) }
                }
            }
        } else {
            out = Tensor.build(outShape, as: Float.self) { dst in
                for (k, i) in indices.enumerated() {
                    let row = payload + i * bytes
                    if case .f4 = kind {
                        (dst.baseAddress! + k * n).withMemoryRebound(to: UInt8.self, capacity: bytes) { $0.update(from: row.assumingMemoryBound(to: UInt8.self), count: bytes) }
                    } else {
                        for j in 0..<n { dst[k * n + j] = Float(Double(bitPattern: row.loadUnaligned(fromByteOffset: 8 * j, as: UInt64.self).littleEndian)) }
                    }
                }
            }
        }
        // A page fault maps the pages around it too (Linux's fault-around, 64 KB), so a shuffled
        // read makes up to 64 KB resident per row: count that, not just the row's bytes.
        let release = touched.withLock { touched -> Bool in
            touched += indices.count * max(bytes, 64 << 10)
            guard touched >= Self.releaseBytes else { return false }
            touched = 0
            return true
        }
        if release { _ = madvise(base, length, Int32(MADV_DONTNEED)) }
        return out
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

/// Samples from memory-mapped `.npy` files: inputs, and labels with as many rows.
public struct NumPySource: DataSource {
    /// The inputs' file and the labels' file, if any.
    public let x: MemoryMappedNumPy, y: MemoryMappedNumPy?
    /// Samples from the `.npy` file at `x` with labels from the one at `y` (same row count).
    public init(x: String, y: String? = nil) throws {
        let inputs = try MemoryMappedNumPy(x), labels = try y.map(MemoryMappedNumPy.init)
        if let labels, labels.count != inputs.count {
            throw LaminaError.shape("\(labels.path) has \(labels.count) rows, \(inputs.path) has \(inputs.count)")
        }
        (self.x, self.y) = (inputs, labels)
    }
    /// The number of samples.
    public var count: Int { x.count }
    /// The rows at `indices` of both files.
    public func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) { (try x.rows(indices), try y?.rows(indices)) }
}

extension Dataset {
    /// Memory-mapped `.npy` files (`numpy.save` / `np.lib.format.open_memmap` write them):
    /// inputs as float32, labels as int32 or float32. Arrays larger than RAM are fine.
    public static func fromNumPy(x: String, y: String? = nil) throws -> Dataset { Dataset(try NumPySource(x: x, y: y)) }
}
