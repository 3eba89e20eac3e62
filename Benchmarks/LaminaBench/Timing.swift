import Foundation
import Lamina
import LaminaData

/// Seconds per call of `body`: one warm-up, then the best of `rounds` batches of at least
/// `minBatch` seconds each (the peer scripts' method).
/// `clock`: CLOCK_MONOTONIC (wall) or CLOCK_THREAD_CPUTIME_ID (this thread's CPU time).
func secondsPerCall(rounds: Int = 5, minBatch: Double = 0.2, clock: clockid_t = CLOCK_MONOTONIC, _ body: () -> Void) -> Double {
    body()
    var calls = 1
    while true {
        let t = now(clock)
        for _ in 0..<calls { body() }
        if now(clock) - t >= minBatch { break }
        calls *= 2
    }
    var best = Double.infinity
    for _ in 0..<rounds {
        let t = now(clock)
        for _ in 0..<calls { body() }
        best = min(best, (now(clock) - t) / Double(calls))
    }
    return best
}

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The compute backend (CPU, BLAS core, SIMD level), written into every record.
let backendRecord = ComputeBackend.current.record

/// Prints one JSON line for a result.
func emit(_ fields: [String: Any]) {
    var record = fields
    record["framework"] = "lamina"
    record["threads"] = ProcessInfo.processInfo.activeProcessorCount
    record["backend"] = backendRecord
    let data = try! JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}
