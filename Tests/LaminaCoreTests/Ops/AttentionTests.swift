import Foundation
import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct AttentionTests {
    /// A naive reference: per (b, h) the scores, where-mask, softmax and the weighted sum of values.
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, causal: Bool, scale: Double) -> [Double] {
        let (b, tq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), tk = k.shape[1], dv = v.shape[3]
        let qv = q.scalarsAsDouble(), kv = k.scalarsAsDouble(), vv = v.scalarsAsDouble(), mv = mask?.scalarsAsDouble()
        var out = [Double](repeating: 0, count: b * tq * h * dv)
        for bi in 0..<b { for hi in 0..<h { for i in 0..<tq {
            var s = [Double](repeating: 0, count: tk)
            for j in 0..<tk {
                for c in 0..<d { s[j] += qv[((bi * tq + i) * h + hi) * d + c] * kv[((bi * tk + j) * h + hi) * d + c] }
                s[j] *= scale
                if (causal && j > i) || (mv.map { $0[(bi * tq + i) * tk + j] == 0 } ?? false) { s[j] = -1e300 }
            }
            let m = s.max()!
            let e = s.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            for j in 0..<tk { for c in 0..<dv { out[((bi * tq + i) * h + hi) * dv + c] += e[j] / z * vv[((bi * tk + j) * h + hi) * dv + c] } }
        } } }
        return out
    }

    static let mask = Tensor(shape: [2, 3, 4], scalars: [1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0,
                                                         1, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0] as [Double])

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func forwardMatchesReference(masked: Bool, causal: Bool) {
        let q = randn([2, 3, 2, 5], seed: 1), k = randn([2, 4, 2, 5], seed: 2), v = randn([2, 4, 2, 3], seed: 3)
        let m = masked ? Self.mask : nil
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, mask: m, causal: causal)
        expectClose(out.scalarsAsDouble(), Self.reference(q, k, v, mask: m, causal: causal, scale: 1 / 5.0.squareRoot()), atol: 1e-12, rtol: 1e-10)
        let out32 = Tensor.scaledDotProductAttention(query: q.cast(to: .float32), key: k.cast(to: .float32), value: v.cast(to: .float32),
                                                     mask: m?.cast(to: .float32), causal: causal)
        expectClose(out32.scalarsAsDouble(), out.scalarsAsDouble(), atol: 1e-5, rtol: 1e-5)
    }

    @Test func fullyMaskedRowIsUniformNotNaN() {
        // Row 2 of batch 0 hides every key: its output is the mean of the values.
        let q = randn([2, 3, 1, 2], seed: 4), k = randn([2, 4, 1, 2], seed: 5), v = randn([2, 4, 1, 1], seed: 6)
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, mask: Self.mask).scalarsAsDouble()
        let mean = v.scalarsAsDouble()[0..<4].reduce(0, +) / 4
        #expect(Swift.abs(out[2] - mean) < 1e-12)
        #expect(out.allSatisfy { $0.isFinite })
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gradientsInFloat64(masked: Bool, causal: Bool) {
        let q = randn([2, 3, 2, 5], seed: 7), k = randn([2, 4, 2, 5], seed: 8), v = randn([2, 4, 2, 3], seed: 9)
        let w = randn([2, 3, 2, 3], seed: 10)   // a random projection of the output, so every entry counts
        let m = masked ? Self.mask : nil
        expectGradients([q, k, v]) { a in
            (Tensor.scaledDotProductAttention(query: a[0], key: a[1], value: a[2], mask: m, causal: causal, scale: 0.7) * w).sum()
        }
        // The probabilities alone (what return_attention_scores gives, and dropout sits on).
        let wp = randn([2, 2, 3, 4], seed: 11)
        expectGradients([q, k]) { a in (Tensor.attentionProbabilities(query: a[0], key: a[1], mask: m, causal: causal, scale: 0.4) * wp).sum() }
    }

    @Test func longerSequencesSpanSeveralRowBlocks() {
        // 70 query rows: two row blocks of the kernel, checked against the reference.
        let q = randn([1, 70, 2, 4], seed: 12), k = randn([1, 70, 2, 4], seed: 13), v = randn([1, 70, 2, 4], seed: 14)
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, causal: true)
        expectClose(out.scalarsAsDouble(), Self.reference(q, k, v, mask: nil, causal: true, scale: 0.5), atol: 1e-12, rtol: 1e-10)
    }
}
