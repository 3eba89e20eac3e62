import Foundation
import Synchronization

/// The reference-counted buffer under a ``Tensor``. Tensors share it until one of them is
/// mutated (copy-on-write, see `Tensor.withUnsafeMutableBuffer`).
///
/// `@unchecked Sendable`, and why that holds: its fields are constants, and its memory is
/// written only (a) while a new tensor is being made, before any other value can see it, or
/// (b) through `Tensor.withUnsafeMutableBuffer` / `withRawMutable`, which first copy the
/// buffer unless `isKnownUniquelyReferenced` says this tensor is its only owner. A tensor
/// handed to another task is a second reference, so neither side writes the shared buffer
/// after that — the rule that makes Swift's `Array` Sendable.
@usableFromInline
final class Storage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutableRawPointer
    @usableFromInline let count: Int
    @usableFromInline let dtype: DType
    private let capacity: Int

    /// Uninitialized memory for `count` elements, 64-byte aligned for vector loads.
    @usableFromInline init(count: Int, dtype: DType) {
        precondition(count >= 0, "Tensor: negative element count \(count)")
        self.count = count
        self.dtype = dtype
        (pointer, capacity) = BufferPool.shared.allocate(byteCount: max(count, 1) * dtype.byteSize)
    }

    /// Zero-filled memory.
    convenience init(zeros count: Int, dtype: DType) {
        self.init(count: count, dtype: dtype)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count * dtype.byteSize)
    }

    @usableFromInline func copy() -> Storage {
        let s = Storage(count: count, dtype: dtype)
        s.pointer.copyMemory(from: pointer, byteCount: count * dtype.byteSize)
        return s
    }

    deinit { BufferPool.shared.release(pointer, capacity: capacity) }
}

/// Keeps freed large buffers for reuse, as PyTorch's caching allocators do. A training step
/// allocates the same activation and gradient sizes every time; without the pool each one is
/// a fresh `mmap` whose pages the kernel must zero (most of the system time of a training
/// run). Sizes are rounded up to a quarter of their power of two, so a few classes serve
/// all batches; a request with no buffer of its class takes the smallest cached one less than
/// twice its size. Buffers over an eighth of the ceiling (at least 128 MiB) are never kept.
///
/// How much waits in the pool follows what the process has shown it needs: at most four times
/// the peak of live pooled buffers (a step's working set — 2 GB for ResNet50 at batch 32 — is
/// reused rather than handed back and faulted in again, and so are the buffers of the other
/// sizes a pass goes through: a forward pass frees each activation soon, but the next layer's
/// differs in size), at least 256 MiB, and never more than a quarter of the memory the process
/// may use (its cgroup's `memory.max`, else the machine's). `emptyCache()` hands everything back.
public final class BufferPool: Sendable {
    /// The pool every tensor's storage comes from and returns to.
    public static let shared = BufferPool()
    /// Buffers below this size go straight to `malloc`, which already caches them.
    static let threshold = 16 << 10
    /// Buffers above this size are returned to the system at once: an eighth of the most the pool
    /// may keep, at least 128 MiB. (MobileNetV2's first activations at batch 32 and 224×224 are
    /// 154 MiB each: not kept, every step had the kernel zero them again, a quarter of its time.)
    let largest: Int
    private struct State {
        var free: [Int: [UInt]] = [:]  // size class -> addresses (raw pointers are not Sendable)
        var cachedBytes = 0
        var lastUse: [Int: Int] = [:]  // size class -> tick of its last allocation or release
        var tick = 0
        var liveBytes = 0, peakLiveBytes = 0  // pooled sizes handed out and not yet released
    }
    // `Locked` (a pthread mutex): ThreadSanitizer sees its ordering, so buffers handed from
    // one thread to another through the pool are not reported as races.
    private let state = Locked(State())
    private let floor: Int, ceiling: Int

    init(floor: Int = 256 << 20, ceiling: Int = BufferPool.memoryAvailable() / 4) {
        self.floor = floor
        self.ceiling = Swift.max(floor, ceiling)
        largest = Swift.max(128 << 20, self.ceiling / 8)
    }

    /// The most bytes the pool keeps now: four times the peak of live pooled bytes, within the
    /// floor and the ceiling.
    public var limit: Int { state.withLock { currentLimit($0) } }

    private func currentLimit(_ s: State) -> Int { Swift.min(Swift.max(floor, 4 * s.peakLiveBytes), ceiling) }

    /// The memory this process may use: its cgroup's limit (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`) where one is set below the machine's, else the machine's.
    static func memoryAvailable(root: String = "/sys/fs/cgroup") -> Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        func read(_ path: String) -> Int? {
            (try? String(contentsOfFile: root + path, encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let cgroup = read("/memory.max") ?? read("/memory/memory.limit_in_bytes")  // "max" reads as nil
        guard let cgroup, cgroup > 0 else { return physical }
        return Swift.min(physical, cgroup)
    }

    static func sizeClass(_ bytes: Int) -> Int {
        guard bytes > threshold else { return bytes }
        let top = Int.bitWidth - 1 - bytes.leadingZeroBitCount  // floor(log2(bytes))
        let quantum = 1 << (top - 2)
        return (bytes + quantum - 1) / quantum * quantum
    }

    func allocate(byteCount: Int) -> (UnsafeMutableRawPointer, Int) {
        let size = Self.sizeClass(byteCount)
        if size > Self.threshold, size <= largest, let (reused, capacity) = state.withLock({ s -> (UInt, Int)? in
            s.tick += 1
            // The buffer of this size class, else the smallest cached one less than twice as
            // large: a forward pass's activations differ in size from layer to layer, and
            // without this each size would need buffers of its own (and the kernel to zero
            // fresh pages for it) while larger freed ones wait.
            var capacity = size
            if s.free[size] == nil, let larger = s.free.keys.lazy.filter({ $0 > size && $0 < 2 * size }).min() {
                capacity = larger
            }
            s.lastUse[capacity] = s.tick
            s.liveBytes += capacity
            s.peakLiveBytes = Swift.max(s.peakLiveBytes, s.liveBytes)
            guard let address = s.free[capacity]?.popLast() else { return nil }
            if s.free[capacity]!.isEmpty { s.free[capacity] = nil }  // a listed class has buffers
            s.cachedBytes -= capacity
            return (address, capacity)
        }) {
            return (UnsafeMutableRawPointer(bitPattern: reused)!, capacity)
        }
        return (UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64), size)
    }

    func release(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        if capacity > Self.threshold && capacity <= largest {
            let address = UInt(bitPattern: pointer)
            // When full, buffers of the least recently used other sizes make room: the pool
            // follows the working set (training's sizes, then predict's larger batches).
            var evicted: [UInt] = []
            let kept = state.withLock { s -> Bool in
                s.liveBytes -= capacity
                let limit = currentLimit(s)
                guard capacity <= limit else { return false }
                s.tick += 1
                s.lastUse[capacity] = s.tick
                // Least recently used sizes go first.
                while s.cachedBytes + capacity > limit,
                      let other = s.free.filter({ $0.key != capacity && !$0.value.isEmpty })
                          .min(by: { s.lastUse[$0.key, default: 0] < s.lastUse[$1.key, default: 0] })?.key {
                    evicted.append(s.free[other]!.removeLast())
                    if s.free[other]!.isEmpty { s.free[other] = nil }
                    s.cachedBytes -= other
                }
                guard s.cachedBytes + capacity <= limit else { return false }
                s.free[capacity, default: []].append(address)
                s.cachedBytes += capacity
                return true
            }
            evicted.forEach { UnsafeMutableRawPointer(bitPattern: $0)!.deallocate() }
            if kept { return }
        }
        pointer.deallocate()
    }

    /// Bytes held for reuse right now.
    public var cachedBytes: Int { state.withLock { $0.cachedBytes } }

    /// Returns every cached buffer to the system (after training, before a memory-hungry step).
    public func emptyCache() {
        let addresses = state.withLock { s -> [UInt] in
            defer { s.free = [:]; s.cachedBytes = 0 }
            return s.free.values.flatMap { $0 }
        }
        addresses.forEach { UnsafeMutableRawPointer(bitPattern: $0)!.deallocate() }
    }
}
