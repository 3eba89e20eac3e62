import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Where `mpirun` is (Open MPI's, from Debian's openmpi-bin), or nil.
let mpirun: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Data-parallel training on real MPI processes: the test launches `mpirun -np 2` on the
/// lamina-mpi-helper executable (Tests/Helpers/MPIHelper) and compares with the same helper
/// run as one plain process.
@Suite(.enabled(if: mpirun != nil, "needs mpirun on PATH (Debian: apt-get install openmpi-bin libopenmpi-dev)"), .serialized)
struct DataParallelTests {
    static let helper = builtProducts.appendingPathComponent("lamina-mpi-helper").path

    struct Run { let status: Int32; let output: String; let seconds: Double }

    /// Runs the helper under `mpirun -np ranks` (0: alone, with --single), killing it after `timeout`.
    func run(_ scenario: String, _ dir: URL, ranks: Int, extra: [String] = [], timeout: Double = 120) throws -> Run {
        let process = Process()
        if ranks == 0 {
            process.executableURL = URL(fileURLWithPath: Self.helper)
            process.arguments = [scenario, dir.path, "--single"] + extra
        } else {
            process.executableURL = URL(fileURLWithPath: mpirun!)
            process.arguments = ["-np", "\(ranks)", "--allow-run-as-root", "--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none",
                                 Self.helper, scenario, dir.path] + extra
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let start = Date()
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        watchdog.cancel()
        return Run(status: process.terminationStatus, output: output, seconds: Date().timeIntervalSince(start))
    }

    func json(_ dir: URL, _ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name))) as! [String: Any]
    }
    func tensors(_ dir: URL, _ name: String) throws -> [Tensor] {
        try Safetensors.load(dir.appendingPathComponent(name)).tensors.sorted { $0.name.localizedStandardCompare($1.name) == .orderedAscending }.map(\.tensor)
    }
    /// max |a − b| / max |b|: relative to the tensor's scale (float32 sums taken in another
    /// order differ by rounding; an element near zero would make element-wise ratios noise).
    func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        return zip(a, b).map { Swift.abs($0 - $1) }.max()! / Swift.max(b.map(Swift.abs).max()!, 1e-12)
    }

    /// The Collective operations on 3 processes against closed forms: rank r contributes
    /// i + 10r (float32) and i + r/2 (float64); the last rank broadcasts its number.
    @Test func collectiveOperations() throws {
        let dir = temporaryDirectory()
        let result = try run("collective", dir, ranks: 3)
        try #require(result.status == 0, "\(result.output)")
        let r = try json(dir, "collective.json")
        #expect(r["size"] as! Int == 3)
        let sum32: [Double] = (0..<5).map { i in Double(3 * i + 30) }
        let sum64: [Double] = (0..<3).map { i in Double(3 * i) + 1.5 }
        let average64: [Double] = (0..<3).map { i in Double(i) + 0.5 }
        #expect(r["sum32"] as! [Double] == sum32)
        #expect(r["sum64"] as! [Double] == sum64)
        #expect(r["average64"] as! [Double] == average64)
        #expect(r["broadcast"] as! [Double] == [2, 2, 2, 2])
    }

    /// 2 ranks sharing a global batch of 64 end 21 Adam steps (the last batch 33: shards of
    /// 16 and 17) with the weights of 1 process with batch 64, within 1e-5 relative; History,
    /// evaluate and predict on rank 0 equal the single process's.
    @Test func twoRanksTrainAsOneProcess() throws {
        let (one, two) = (temporaryDirectory(), temporaryDirectory())
        let single = try run("train", one, ranks: 0)
        #expect(single.status == 0, "\(single.output)")
        let parallel = try run("train", two, ranks: 2)
        try #require(parallel.status == 0, "\(parallel.output)")
        let reference = try tensors(one, "final-rank0.safetensors")
        for r in 0..<2 {
            let weights = try tensors(two, "final-rank\(r).safetensors")
            #expect(weights.count == reference.count && weights.count == 6)
            for (w, ref) in zip(weights, reference) {
                let error = maxRelativeError(w.scalarsAsDouble(), ref.scalarsAsDouble())
                #expect(error <= 1e-5, "rank \(r): weights differ from one process's by \(error) relative")
            }
        }
        let (h1, h2) = (try json(one, "history.json"), try json(two, "history.json"))
        #expect(Set(h2.keys) == ["loss", "accuracy", "val_loss", "val_accuracy"])
        for key in h1.keys {
            let error = maxRelativeError(h2[key] as! [Double], h1[key] as! [Double])
            #expect(error <= 1e-5, "History \(key): \(h2[key]!) vs one process's \(h1[key]!)")
        }
        let (r1, r2) = (try json(one, "results.json"), try json(two, "results.json"))
        #expect(maxRelativeError([r2["loss"] as! Double], [r1["loss"] as! Double]) <= 1e-5)
        #expect(r2["accuracy"] as! Double == r1["accuracy"] as! Double)
        #expect(r2["predict_shape"] as! [Int] == [65, 4])
        #expect(maxRelativeError(r2["predict"] as! [Double], r1["predict"] as! [Double]) <= 1e-5)
        // Gradients go in one fused bucket per step (21 steps), not one call per weight (6).
        let calls = r2["allreduce_calls"] as! Int
        #expect(calls >= 21 && calls < 21 * 6, "\(calls) allreduce calls")
        // Only rank 0 wrote the model; it loads and predicts like the single process's.
        let model = try Sequential.load(two.appendingPathComponent("model.lamina").path)
        #expect(model.epoch == 1)
    }

    /// A functional model of two inputs and two outputs trains on 2 ranks as on one process:
    /// the same weights, the same per-output losses and metrics, the same predictions.
    @Test func functionalModelsTrainAsOneProcess() throws {
        let (one, two) = (temporaryDirectory(), temporaryDirectory())
        let single = try run("functional", one, ranks: 0)
        try #require(single.status == 0, "\(single.output)")
        let parallel = try run("functional", two, ranks: 2)
        try #require(parallel.status == 0, "\(parallel.output)")
        let reference = try tensors(one, "final-rank0.safetensors")
        for r in 0..<2 {
            for (w, ref) in zip(try tensors(two, "final-rank\(r).safetensors"), reference) {
                #expect(maxRelativeError(w.scalarsAsDouble(), ref.scalarsAsDouble()) <= 1e-5, "rank \(r)")
            }
        }
        let (h1, h2) = (try json(one, "history.json"), try json(two, "history.json"))
        #expect(Set(h2.keys) == ["loss", "cls_loss", "score_loss", "cls_accuracy", "val_loss", "val_cls_loss", "val_score_loss", "val_cls_accuracy"])
        for key in h1.keys { #expect(maxRelativeError(h2[key] as! [Double], h1[key] as! [Double]) <= 1e-5, "\(key)") }
        let (r1, r2) = (try json(one, "results.json"), try json(two, "results.json"))
        for key in ["cls", "score"] { #expect(maxRelativeError(r2[key] as! [Double], r1[key] as! [Double]) <= 1e-5, "\(key)") }
    }

    /// A subclassed model with its own trainStep (applyGradients sums the ranks' gradients)
    /// trains under DataParallel as on one process: same weights, same global accuracy.
    @Test func subclassedModelWithCustomTrainStepTrainsAsOneProcess() throws {
        let (one, two) = (temporaryDirectory(), temporaryDirectory())
        let single = try run("subclass", one, ranks: 0)
        try #require(single.status == 0, "\(single.output)")
        let parallel = try run("subclass", two, ranks: 2)
        try #require(parallel.status == 0, "\(parallel.output)")
        let reference = try tensors(one, "final-rank0.safetensors")
        #expect(reference.count == 6)
        for r in 0..<2 {
            for (w, ref) in zip(try tensors(two, "final-rank\(r).safetensors"), reference) {
                #expect(maxRelativeError(w.scalarsAsDouble(), ref.scalarsAsDouble()) <= 1e-5, "rank \(r)")
            }
        }
        let (h1, h2) = (try json(one, "history.json"), try json(two, "history.json"))
        #expect(h1["steps"] as! [Double] == [21] && h2["steps"] as! [Double] == [21])
        #expect(maxRelativeError(h2["accuracy"] as! [Double], h1["accuracy"] as! [Double]) <= 1e-9)
    }

    /// Ranks started with different seeds (different initial weights) train identical
    /// weights: rank 0's are broadcast when fit starts.
    @Test func weightsAreBroadcastFromRankZero() throws {
        let dir = temporaryDirectory()
        let result = try run("train", dir, ranks: 2, extra: ["--seed-per-rank"])
        try #require(result.status == 0, "\(result.output)")
        let (i0, i1) = (try tensors(dir, "initial-rank0.safetensors"), try tensors(dir, "initial-rank1.safetensors"))
        #expect(zip(i0, i1).contains { $0.scalarsAsDouble() != $1.scalarsAsDouble() }, "the ranks started alike; the test shows nothing")
        let (f0, f1) = (try tensors(dir, "final-rank0.safetensors"), try tensors(dir, "final-rank1.safetensors"))
        for (a, b) in zip(f0, f1) { #expect(a.scalarsAsDouble() == b.scalarsAsDouble()) }
    }

    /// A rank killed mid-epoch ends the job within a bounded time, and mpirun names it; a
    /// rank that throws ends it too, with Lamina's message naming the rank and the error —
    /// also when the error is fit's own argument check on that rank's data, before any
    /// collective, and the script catches it (rank 0 must not wait forever).
    @Test(arguments: ["kill", "throw", "badlabels"])
    func aFailedRankEndsTheJob(_ scenario: String) throws {
        let dir = temporaryDirectory()
        let result = try run(scenario, dir, ranks: 2, timeout: 90)
        #expect(result.status != 0)
        #expect(result.seconds < 60, "the job took \(result.seconds) s to end")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("finished.json").path))
        if scenario == "kill" {
            #expect(result.output.contains("rank 1"), "\(result.output)")
        } else if scenario == "throw" {
            #expect(result.output.contains("Lamina: rank 1 of 2 failed: a failure on purpose"), "\(result.output)")
        } else {
            #expect(result.output.contains("Lamina: rank 1 of 2 failed:") && result.output.contains("99"), "\(result.output)")
        }
    }

    /// A hand-written loop of trainOnBatch calls shards each global batch too (ranks seeded
    /// differently: rank 0's weights are taken before the first step).
    @Test func trainOnBatchLoopsTrainAsOneProcess() throws {
        let (one, two) = (temporaryDirectory(), temporaryDirectory())
        #expect(try run("batches", one, ranks: 0).status == 0)
        let parallel = try run("batches", two, ranks: 2, extra: ["--seed-per-rank"])
        try #require(parallel.status == 0, "\(parallel.output)")
        let reference = try tensors(one, "final-rank0.safetensors")
        for r in 0..<2 {
            for (w, ref) in zip(try tensors(two, "final-rank\(r).safetensors"), reference) {
                #expect(maxRelativeError(w.scalarsAsDouble(), ref.scalarsAsDouble()) <= 1e-5, "rank \(r)")
            }
        }
        let (r1, r2) = (try json(one, "history.json")["results"] as! [Double], try json(two, "history.json")["results"] as! [Double])
        #expect(r1.count == 10 && maxRelativeError(r2, r1) <= 1e-5, "\(r2) vs \(r1)")
    }

    /// fit over a Dataset shuffled with a seed trains on 2 ranks as on 1 process, and predict
    /// over a dataset (sharded per batch) gives the same outputs; a dataset
    /// shuffled from each rank's own generator (ranks seeded differently) is refused with a
    /// message, since the ranks would read different global batches.
    @Test func datasetsTrainAsOneProcessOrAreRefused() throws {
        let (one, two) = (temporaryDirectory(), temporaryDirectory())
        #expect(try run("dataset", one, ranks: 0).status == 0)
        let parallel = try run("dataset", two, ranks: 2)
        try #require(parallel.status == 0, "\(parallel.output)")
        for (w, ref) in zip(try tensors(two, "final-rank1.safetensors"), try tensors(one, "final-rank0.safetensors")) {
            #expect(maxRelativeError(w.scalarsAsDouble(), ref.scalarsAsDouble()) <= 1e-5)
        }
        let (h1, h2) = (try json(one, "history.json"), try json(two, "history.json"))
        for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
            #expect(maxRelativeError(h2[key] as! [Double], h1[key] as! [Double]) <= 1e-5, "\(key)")
        }
        let (p1, p2) = (try json(one, "results.json"), try json(two, "results.json"))
        #expect(p2["predict_shape"] as! [Int] == [65, 4])
        #expect(maxRelativeError(p2["predict"] as! [Double], p1["predict"] as! [Double]) <= 1e-5)
        let refused = try run("dataset", temporaryDirectory(), ranks: 2, extra: ["--unseeded", "--seed-per-rank"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("the ranks read different batches"), "\(refused.output)")
    }

    /// Rank 0's checkpoint after epoch 2 of a 2-rank run resumes on 1 process with the losses
    /// of the uninterrupted 2-rank run.
    @Test func checkpointResumesOnOneProcess() throws {
        let dir = temporaryDirectory()
        let result = try run("checkpoint", dir, ranks: 2)
        try #require(result.status == 0, "\(result.output)")
        let resumed = try run("resume", dir, ranks: 0)
        try #require(resumed.status == 0, "\(resumed.output)")
        let (full, rest) = (try json(dir, "history.json"), try json(dir, "history-resumed.json"))
        for key in ["loss", "val_loss", "accuracy"] {
            let tail = Array((full[key] as! [Double]).suffix(2))
            #expect(maxRelativeError(rest[key] as! [Double], tail) <= 1e-5, "\(key): resumed \(rest[key]!) vs \(tail)")
        }
    }
}
