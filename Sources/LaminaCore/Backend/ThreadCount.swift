import CLaminaKernels
import Foundation
import Synchronization

/// How many threads Lamina's own kernels split work across (the BLAS runs one thread per call).
/// PyTorch: `torch.get_num_threads()` / `torch.set_num_threads(n)`.
///
/// The default is the CPUs this process may really use, as `os.sched_getaffinity` and
/// PyTorch count them: the affinity mask (`taskset`, a container's cpuset), capped by the
/// cgroup CPU quota (`docker run --cpus=1.5` gives 2), and divided among the processes `mpirun`
/// started on this machine. `LAMINA_NUM_THREADS=n` overrides it at start; `ThreadCount.set(_:)`
/// at any time. `ComputeBackend.current` shows the count and the reason.
public enum ThreadCount {
    private static let setting = Atomic<Int>(initial.threads)
    private static let reasonBox = Locked(initial.reason)
    private static let initial = decide(online: sysconf(Int32(_SC_NPROCESSORS_ONLN)), affinity: Int(lamina_affinity_cpu_count()),
                                        quota: cgroupQuota(), environment: ProcessInfo.processInfo.environment)

    /// The threads Lamina's kernels use now.
    public static var current: Int { setting.load(ordering: .relaxed) }

    /// Why the count is what it is ("affinity mask: 2 CPUs", "LAMINA_NUM_THREADS=4", ...).
    public static var reason: String { reasonBox.withLock { $0 } }

    /// Sets the threads Lamina's kernels use from the next op on (1 runs everything on the
    /// calling thread). Throws for a count below 1 or above 255.
    public static func set(_ threads: Int) throws {
        guard (1...255).contains(threads) else {
            throw InvalidThreadCount(requested: threads)
        }
        setting.store(threads, ordering: .relaxed)
        reasonBox.withLock { $0 = "ThreadCount.set(\(threads))" }
    }

    /// The default count from the machine's facts, a pure function so it is tested with tables:
    /// `online` CPUs, the affinity mask's count (0: unknown), the cgroup quota in CPUs (nil: none),
    /// and the environment (LAMINA_NUM_THREADS; mpirun's local process count).
    static func decide(online: Int, affinity: Int, quota: Double?, environment: [String: String]) -> (threads: Int, reason: String) {
        let local = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first ?? 1
        var ignored = ""
        if let text = environment["LAMINA_NUM_THREADS"] {
            if let n = Int(text.trimmingCharacters(in: .whitespaces)), (1...255).contains(n) { return (n, "LAMINA_NUM_THREADS=\(n)") }
            ignored = "; LAMINA_NUM_THREADS=\(text) ignored (give 1...255)"
        }
        var threads = affinity > 0 ? affinity : Swift.max(1, online)
        var reason = affinity > 0 ? "affinity mask: \(affinity) CPU\(affinity == 1 ? "" : "s")" : "\(threads) online CPU\(threads == 1 ? "" : "s")"
        if let quota, quota > 0, Int(quota.rounded(.up)) < threads {
            threads = Swift.max(1, Int(quota.rounded(.up)))
            reason += ", cgroup CPU quota \(quota) → \(threads)"
        }
        if local > 1 {
            threads = Swift.max(1, threads / local)
            reason += ", shared by \(local) local MPI processes → \(threads)"
        }
        return (threads, reason + ignored)
    }

    /// The cgroup CPU quota in CPUs (v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`),
    /// nil when unlimited or unknown.
    static func cgroupQuota(root: String = "/sys/fs/cgroup") -> Double? {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: root + path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let max = read("/cpu.max") { return parseQuota(v2: max) }
        if let quota = read("/cpu/cpu.cfs_quota_us").flatMap(Double.init), let period = read("/cpu/cpu.cfs_period_us").flatMap(Double.init) {
            return quota > 0 && period > 0 ? quota / period : nil
        }
        return nil
    }

    /// "max 100000" → nil; "150000 100000" → 1.5.
    static func parseQuota(v2 text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), quota > 0, period > 0 else { return nil }
        return quota / period
    }
}

/// A thread count outside 1...255 given to `ThreadCount.set(_:)`.
public struct InvalidThreadCount: Error, CustomStringConvertible {
    /// The count that was asked for.
    public let requested: Int
    /// What was wrong and the range allowed.
    public var description: String { "ThreadCount.set: \(requested) threads; give 1...255" }
}
