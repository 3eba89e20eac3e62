import Testing
@testable import LaminaCore

@Suite struct LSTMTests {
    /// The recurrence written with primitive ops, as the layer computes it for other activations.
    func unrolled(_ xw: Tensor, _ u: Tensor, returnSequences: Bool) -> Tensor {
        let n = u.shape[0]
        var h = Tensor.zeros([xw.shape[1], n], dtype: xw.dtype), c = h
        var outputs: [Tensor] = []
        for t in 0..<xw.shape[0] {
            let z = xw.sliced(axis: 0, t..<t + 1).squeezed(axis: 0) + h.matmul(u)
            let i = z.sliced(axis: 1, 0..<n).sigmoid(), f = z.sliced(axis: 1, n..<2 * n).sigmoid()
            let g = z.sliced(axis: 1, 2 * n..<3 * n).tanh(), o = z.sliced(axis: 1, 3 * n..<4 * n).sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
            outputs.append(h)
        }
        return returnSequences ? Tensor.stacked(outputs, axis: 0) : h
    }

    @Test(arguments: [false, true])
    func fusedForwardAndGradientsMatchTheUnrolledOps(returnSequences: Bool) {
        var xw = randn([5, 3, 16], seed: 21) * 1.5, u = randn([4, 16], seed: 22) * 0.5
        let fused = xw.lstmRecurrence(recurrentKernel: u, returnSequences: returnSequences)
        expectClose(fused, unrolled(xw, u, returnSequences: returnSequences), atol: 1e-12, rtol: 1e-12)
        // Gradients against finite differences, through a weighted sum so every output counts.
        let weights = randn(fused.shape, seed: 23)
        expectGradients([xw, u]) { ($0[0].lstmRecurrence(recurrentKernel: $0[1], returnSequences: returnSequences) * weights).sum() }
        // ... and against the unrolled graph's gradients.
        xw.requiresGrad = true
        u.requiresGrad = true
        let a = (xw.lstmRecurrence(recurrentKernel: u, returnSequences: returnSequences) * weights).sum().gradients(wrt: [xw, u])
        let b = (unrolled(xw, u, returnSequences: returnSequences) * weights).sum().gradients(wrt: [xw, u])
        expectClose(a[0], b[0], atol: 1e-12, rtol: 1e-10)
        expectClose(a[1], b[1], atol: 1e-12, rtol: 1e-10)
    }

    @Test func float32MatchesFloat64() {
        let xw = randn([28, 8, 64], seed: 24), u = randn([16, 64], seed: 25) * 0.3
        let h64 = xw.lstmRecurrence(recurrentKernel: u, returnSequences: true)
        let h32 = xw.cast(to: .float32).lstmRecurrence(recurrentKernel: u.cast(to: .float32), returnSequences: true)
        expectClose(h32.scalarsAsDouble(), h64.asArray(Double.self), atol: 2e-6, rtol: 1e-5)
    }
}
