import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Under DataParallel, a pipeline that batches straight from `.npy` files reads on each rank only
/// that rank's shard of each global batch, and trains exactly as reading whole batches and
/// slicing them did, and as one process does.
@Suite(.enabled(if: mpirun != nil, "needs mpirun on PATH (Debian: apt-get install openmpi-bin libopenmpi-dev)"), .serialized)
struct ShardedReadingTests {
    /// 2 epochs of 21 global batches (20 of 64, the last of 33: shards of 16 and 17). Sharded: rank
    /// 0 reads 2 × (20 × 32 + 16) = 1,312 rows and rank 1 2 × (20 × 32 + 17) = 1,314; whole
    /// batches (and one process): 2 × 1,313 each. The sharded weights are the whole-batch run's
    /// bit for bit (the same rows reach the same steps), and one process's within float32 rounding.
    @Test func eachRankReadsOnlyItsShard() throws {
        let tests = DataParallelTests()
        let (one, sharded, whole) = (temporaryDirectory(), temporaryDirectory(), temporaryDirectory())
        let single = try tests.run("sharded", one, ranks: 0)
        try #require(single.status == 0, "\(single.output)")
        let a = try tests.run("sharded", sharded, ranks: 2)
        try #require(a.status == 0, "\(a.output)")
        let b = try tests.run("sharded", whole, ranks: 2, extra: ["--global-reads"])
        try #require(b.status == 0, "\(b.output)")
        func rows(_ dir: URL, _ rank: Int) throws -> Int { try tests.json(dir, "rows-rank\(rank).json")["rows"] as! Int }
        #expect(try rows(one, 0) == 2626)
        #expect(try rows(sharded, 0) == 1312)
        #expect(try rows(sharded, 1) == 1314)
        #expect(try rows(whole, 0) == 2626)
        #expect(try rows(whole, 1) == 2626)
        let (ws, ws1, ww, w1) = (try tests.tensors(sharded, "final-rank0.safetensors"), try tests.tensors(sharded, "final-rank1.safetensors"),
                                 try tests.tensors(whole, "final-rank0.safetensors"), try tests.tensors(one, "final-rank0.safetensors"))
        try #require(ws.count == 6 && ws.count == ww.count && ws.count == w1.count)
        for i in ws.indices {
            #expect(ws[i].asArray(Float.self) == ww[i].asArray(Float.self), "weight \(i): sharded vs whole batches")
            #expect(ws[i].asArray(Float.self) == ws1[i].asArray(Float.self), "weight \(i): rank 0 vs rank 1")
            #expect(tests.maxRelativeError(ws[i].scalarsAsDouble(), w1[i].scalarsAsDouble()) <= 1e-5, "weight \(i): 2 ranks vs 1 process")
        }
        let (h1, hs, hw) = (try tests.json(one, "history.json"), try tests.json(sharded, "history.json"), try tests.json(whole, "history.json"))
        for key in ["loss", "accuracy"] {
            #expect(hs[key] as! [Double] == hw[key] as! [Double], "\(key)")
            #expect(tests.maxRelativeError(hs[key] as! [Double], h1[key] as! [Double]) <= 1e-5, "\(key)")
        }
    }
}
