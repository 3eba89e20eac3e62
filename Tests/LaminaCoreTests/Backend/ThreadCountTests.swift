import CLaminaKernels
import Foundation
import Testing
@testable import LaminaCore

/// The default thread count from the machine's facts (a table of cases), the cgroup quota files,
/// and the setter that kernels read on their next op.
@Suite(.serialized) struct ThreadCountTests {
    @Test func defaultsFollowAffinityQuotaEnvironmentAndMPI() {
        let cases: [(online: Int, affinity: Int, quota: Double?, env: [String: String], expected: Int)] = [
            (64, 0, nil, [:], 64),                                           // no affinity reported: online CPUs
            (64, 2, nil, [:], 2),                                            // taskset / cpuset of 2 of 64
            (64, 8, 1.5, [:], 2),                                            // docker --cpus=1.5 rounds up
            (64, 8, 0.5, [:], 1),                                            // a fraction of a CPU still runs one thread
            (64, 4, 16, [:], 4),                                             // a quota above the mask changes nothing
            (16, 16, nil, ["OMPI_COMM_WORLD_LOCAL_SIZE": "4"], 4),           // 4 ranks on this machine share it
            (16, 16, nil, ["MPI_LOCALNRANKS": "32"], 1),                     // never below one
            (16, 2, 1, ["LAMINA_NUM_THREADS": "6"], 6),                      // the variable wins
            (16, 2, nil, ["LAMINA_NUM_THREADS": "zero"], 2),                 // an invalid value is ignored, and said so
        ]
        for c in cases {
            let (threads, reason) = ThreadCount.decide(online: c.online, affinity: c.affinity, quota: c.quota, environment: c.env)
            #expect(threads == c.expected, "\(c): \(threads) (\(reason))")
        }
        let ignored = ThreadCount.decide(online: 16, affinity: 2, quota: nil, environment: ["LAMINA_NUM_THREADS": "zero"]).reason
        #expect(ignored.contains("LAMINA_NUM_THREADS=zero ignored"))
        #expect(ThreadCount.decide(online: 64, affinity: 8, quota: 1.5, environment: [:]).reason.contains("cgroup CPU quota 1.5"))
    }

    @Test func cgroupQuotaFiles() throws {
        #expect(ThreadCount.parseQuota(v2: "max 100000") == nil)
        #expect(ThreadCount.parseQuota(v2: "150000 100000") == 1.5)
        #expect(ThreadCount.parseQuota(v2: "garbage") == nil)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("cpu"), withIntermediateDirectories: true)
        #expect(ThreadCount.cgroupQuota(root: root.path) == nil)
        try "-1\n".write(to: root.appendingPathComponent("cpu/cpu.cfs_quota_us"), atomically: true, encoding: .utf8)
        try "100000\n".write(to: root.appendingPathComponent("cpu/cpu.cfs_period_us"), atomically: true, encoding: .utf8)
        #expect(ThreadCount.cgroupQuota(root: root.path) == nil)   // v1, unlimited
        try "250000\n".write(to: root.appendingPathComponent("cpu/cpu.cfs_quota_us"), atomically: true, encoding: .utf8)
        #expect(ThreadCount.cgroupQuota(root: root.path) == 2.5)   // v1
        try "50000 100000\n".write(to: root.appendingPathComponent("cpu.max"), atomically: true, encoding: .utf8)
        #expect(ThreadCount.cgroupQuota(root: root.path) == 0.5)   // v2 first
    }

    /// The setter changes what the next op splits across, results stay the same, and bad counts throw.
    @Test func setterTakesEffectAndRefusesBadCounts() throws {
        let before = ThreadCount.current
        defer { try? ThreadCount.set(before) }
        let a = Tensor.randomNormal([300, 200], seed: 1), b = Tensor.randomNormal([200, 100], seed: 2)
        let reference = a.matmul(b).sum(axes: [1]).softmax()
        try ThreadCount.set(1)
        #expect(ThreadCount.current == 1 && ComputeBackend.current.threads == 1)
        #expect(ComputeBackend.current.description.contains("ThreadCount.set(1)"))
        func deviation() -> Float {
            zip(a.matmul(b).sum(axes: [1]).softmax().asArray(Float.self), reference.asArray(Float.self)).map { Swift.abs($0 - $1) }.max()!
        }
        #expect(deviation() < 1e-6)
        try ThreadCount.set(3)
        #expect(deviation() < 1e-6)
        #expect(throws: InvalidThreadCount.self) { try ThreadCount.set(0) }
        #expect(throws: InvalidThreadCount.self) { try ThreadCount.set(1000) }
        #expect(ThreadCount.current == 3)
    }

    /// This machine's default, from what the system reports.
    @Test func defaultMatchesThisMachine() {
        let affinity = Int(lamina_affinity_cpu_count())
        let expected = ThreadCount.decide(online: sysconf(Int32(_SC_NPROCESSORS_ONLN)), affinity: affinity, quota: ThreadCount.cgroupQuota(),
                                          environment: ProcessInfo.processInfo.environment)
        print("ThreadCount: default \(expected.threads) threads (\(expected.reason)); affinity mask \(affinity) CPUs")
        #expect(affinity >= 1 && expected.threads >= 1 && expected.threads <= affinity)
    }
}
