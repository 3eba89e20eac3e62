import Foundation
import Testing
@testable import LaminaCore

/// Lamina's fork-join pool under back-to-back, nested and concurrent loops.
@Suite struct ParallelForTests {
    /// Sums 0..<n through parallelFor, each chunk writing its own slot.
    static func parallelSum(_ n: Int, grain: Int = 1) -> Int {
        let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        defer { slots.deallocate() }
        nonisolated(unsafe) let s = slots
        Kernels.parallelFor(n, grain: grain) { r in for i in r { s[i] = i } }
        return slots.reduce(0, +)
    }

    @Test func everyIndexRunsOnceInManyBackToBackLoops() {
        for n in [0, 1, 2, 3, 17, 1000] {
            for _ in 0..<2000 { #expect(Self.parallelSum(n) == n * (n - 1) / 2) }
        }
    }

    @Test func nestedLoopsRunInline() {
        let total = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
        defer { total.deallocate() }
        nonisolated(unsafe) let t = total
        Kernels.parallelFor(64) { outer in
            for i in outer { t[i] = Self.parallelSum(100) }
        }
        #expect(total.allSatisfy { $0 == 4950 })
    }

    @Test func concurrentCallersEachGetTheirOwnResults() async {
        await withTaskGroup(of: Bool.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var ok = true
                    for round in 0..<300 {
                        let n = 50 + (task * 37 + round) % 200
                        ok = ok && Self.parallelSum(n) == n * (n - 1) / 2
                    }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
