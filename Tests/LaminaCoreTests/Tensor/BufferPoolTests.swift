import Foundation
import Testing
@testable import LaminaCore

/// The buffer pool under every tensor (a private instance here, so other tests' tensors do not
/// change the counts): freed buffers of one size are reused, and how much waits in the pool
/// follows the peak of live pooled bytes between its floor and ceiling.
@Suite struct BufferPoolTests {
    let mib = 1 << 20

    @Test func sizeClassesRoundUpToAQuarterOfTheirPowerOfTwo() {
        #expect(BufferPool.sizeClass(1000) == 1000)              // below the threshold: as asked
        #expect(BufferPool.sizeClass(40_000) == 40_960)          // 32 KiB + 1/4 step of 8 KiB
        #expect(BufferPool.sizeClass(mib) == mib)
        #expect(BufferPool.sizeClass(mib + 1) == mib + mib / 4)
    }

    @Test func aFreedBufferIsReusedForTheSameSizeClass() {
        let pool = BufferPool(floor: 8 * mib, ceiling: 64 * mib)
        let (a, capacity) = pool.allocate(byteCount: 3 * mib)
        pool.release(a, capacity: capacity)
        #expect(pool.cachedBytes == capacity)
        let (b, again) = pool.allocate(byteCount: 3 * mib - 100)  // the same class
        #expect(b == a && again == capacity)
        #expect(pool.cachedBytes == 0)
        pool.release(b, capacity: again)
        pool.emptyCache()
        #expect(pool.cachedBytes == 0)
    }

    /// A working set larger than the floor is kept whole once it has been live, so the next
    /// step reuses it (ResNet50's case); the limit is four times the peak, within the ceiling.
    @Test func theLimitFollowsThePeakOfLiveBytes() {
        let pool = BufferPool(floor: 4 * mib, ceiling: 100 * mib)
        #expect(pool.limit == 4 * mib)
        let step = (0..<5).map { _ in pool.allocate(byteCount: 4 * mib) }  // 20 MiB live at once
        #expect(pool.limit == 80 * mib)
        for (p, c) in step { pool.release(p, capacity: c) }
        #expect(pool.cachedBytes == 20 * mib)                     // the whole step waits for the next
        let next = (0..<5).map { _ in pool.allocate(byteCount: 4 * mib) }
        #expect(Set(next.map(\.0)) == Set(step.map(\.0)))         // ... which gets the same buffers
        #expect(pool.cachedBytes == 0)
        let more = (0..<25).map { _ in pool.allocate(byteCount: 4 * mib) }  // 120 MiB live: over the ceiling
        #expect(pool.limit == 100 * mib)
        for (p, c) in next + more { pool.release(p, capacity: c) }
        #expect(pool.cachedBytes == 100 * mib)
        pool.emptyCache()
    }

    /// With no buffer of its own class, a request takes the smallest cached one less than twice
    /// its size (and hands it back under that buffer's class); twice as large or more is left.
    @Test func aSlightlyLargerBufferServesASmallerRequest() {
        let pool = BufferPool(floor: 64 * mib, ceiling: 64 * mib)
        let (three, c3) = pool.allocate(byteCount: 3 * mib), (five, c5) = pool.allocate(byteCount: 5 * mib)
        pool.release(three, capacity: c3)
        pool.release(five, capacity: c5)
        let (p, capacity) = pool.allocate(byteCount: 2 * mib + 1)   // class 2.5 MiB: the 3 MiB buffer
        #expect(p == three && capacity == c3)
        let (q, cq) = pool.allocate(byteCount: 2 * mib)
        #expect(q != five)                                          // 5 MiB is over twice 2 MiB
        pool.release(q, capacity: cq)
        pool.release(p, capacity: capacity)
        #expect(pool.allocate(byteCount: 3 * mib).0 == three)      // back under its own class
        pool.emptyCache()
    }

    /// Buffers up to an eighth of the ceiling (at least 128 MiB) are kept for reuse; larger ones
    /// go back to the system when freed.
    @Test func buffersUpToAnEighthOfTheCeilingAreKept() {
        #expect(BufferPool(floor: 4 * mib, ceiling: 64 * mib).largest == 128 * mib)
        let pool = BufferPool(floor: 256 * mib, ceiling: 2048 * mib)
        #expect(pool.largest == 256 * mib)
        let (kept, keptCapacity) = pool.allocate(byteCount: 200 * mib)       // MobileNetV2's first activations
        let (big, bigCapacity) = pool.allocate(byteCount: 300 * mib)
        pool.release(kept, capacity: keptCapacity)
        pool.release(big, capacity: bigCapacity)
        #expect(pool.cachedBytes == keptCapacity)
        #expect(pool.allocate(byteCount: 200 * mib).0 == kept)
        pool.emptyCache()
    }

    /// When full, the least recently used other size makes room for a buffer being released.
    @Test func leastRecentlyUsedSizesAreEvictedFirst() {
        let pool = BufferPool(floor: 4 * mib, ceiling: 4 * mib)
        let (a, ca) = pool.allocate(byteCount: 2 * mib)
        let (b, cb) = pool.allocate(byteCount: 1 * mib)
        pool.release(a, capacity: ca)
        pool.release(b, capacity: cb)
        #expect(pool.cachedBytes == 3 * mib)
        let (c, cc) = pool.allocate(byteCount: 3 * mib)          // a new size; then released
        pool.release(c, capacity: cc)
        // 3 + 3 > 4 MiB: the 2 MiB buffer (used longest ago) went; the 1 MiB one fits beside it.
        #expect(pool.cachedBytes == 4 * mib)
        #expect(pool.allocate(byteCount: 3 * mib).0 == c)
        #expect(pool.allocate(byteCount: 1 * mib).0 == b)
        #expect(pool.cachedBytes == 0)
        pool.emptyCache()
    }

    @Test func memoryAvailableReadsTheCgroupLimit() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-cgroup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        #expect(BufferPool.memoryAvailable(root: root.path) == physical)  // no files: the machine's
        try "max\n".write(to: root.appendingPathComponent("memory.max"), atomically: true, encoding: .utf8)
        #expect(BufferPool.memoryAvailable(root: root.path) == physical)
        try "1073741824\n".write(to: root.appendingPathComponent("memory.max"), atomically: true, encoding: .utf8)
        #expect(BufferPool.memoryAvailable(root: root.path) == Swift.min(physical, 1 << 30))
    }
}
