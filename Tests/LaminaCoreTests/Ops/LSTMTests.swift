import Testing
import LaminaTestSupport
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

    /// Float32 (the own GEMM with the recurrent kernel packed once, where `auto` runs it: 16 and
    /// 20 units here, 20 ragged against every tile width) against float64 (the BLAS), forward
    /// and backward.
    @Test(arguments: [16, 20])
    func float32MatchesFloat64(units: Int) {
        var xw = randn([28, 8, 4 * units], seed: 24), u = randn([units, 4 * units], seed: 25) * 0.3
        let h64 = xw.lstmRecurrence(recurrentKernel: u, returnSequences: true)
        var xw32 = xw.cast(to: .float32), u32 = u.cast(to: .float32)
        let h32 = xw32.lstmRecurrence(recurrentKernel: u32, returnSequences: true)
        expectClose(h32.scalarsAsDouble(), h64.asArray(Double.self), atol: 2e-6, rtol: 1e-5)
        let weights = randn(h64.shape, seed: 26)
        xw.requiresGrad = true
        u.requiresGrad = true
        xw32.requiresGrad = true
        u32.requiresGrad = true
        let g64 = (xw.lstmRecurrence(recurrentKernel: u, returnSequences: true) * weights).sum().gradients(wrt: [xw, u])
        let g32 = (xw32.lstmRecurrence(recurrentKernel: u32, returnSequences: true) * weights.cast(to: .float32)).sum()
            .gradients(wrt: [xw32, u32])
        expectClose(g32[0].scalarsAsDouble(), g64[0].asArray(Double.self), atol: 2e-5, rtol: 1e-4)
        expectClose(g32[1].scalarsAsDouble(), g64[1].asArray(Double.self), atol: 2e-4, rtol: 1e-4)
    }

    /// The masked recurrence from initial states, written with primitive ops: skipped samples
    /// keep h and c. Returns h per step (time-major) and the last c.
    func unrolledMasked(_ xw: Tensor, _ u: Tensor, mask: Tensor, h0: Tensor, c0: Tensor) -> (Tensor, Tensor) {
        let n = u.shape[0]
        var h = h0, c = c0
        var outputs: [Tensor] = []
        for t in 0..<xw.shape[0] {
            let z = xw.sliced(axis: 0, t..<t + 1).squeezed(axis: 0) + h.matmul(u)
            let i = z.sliced(axis: 1, 0..<n).sigmoid(), f = z.sliced(axis: 1, n..<2 * n).sigmoid()
            let g = z.sliced(axis: 1, 2 * n..<3 * n).tanh(), o = z.sliced(axis: 1, 3 * n..<4 * n).sigmoid()
            let m = mask.sliced(axis: 0, t..<t + 1).reshaped(to: [xw.shape[1], 1])
            let cNew = f * c + i * g
            let hNew = o * cNew.tanh()
            c = m * cNew + (1 - m) * c
            h = m * hNew + (1 - m) * h
            outputs.append(h)
        }
        return (Tensor.stacked(outputs, axis: 0), c)
    }

    /// A per-step, per-sample mask, initial states and the last cell as output: forward equals
    /// the unrolled ops, and the float64 gradients (input projections, U, h_0, c_0) match finite
    /// differences, with and without the sequence.
    @Test(arguments: [false, true])
    func maskedFusedRecurrenceFromInitialStates(returnSequences: Bool) {
        let (steps, batch) = (5, 4)
        let xw = randn([steps, batch, 12], seed: 31) * 1.5, u = randn([3, 12], seed: 32) * 0.5
        let h0 = randn([batch, 3], seed: 33), c0 = randn([batch, 3], seed: 34)
        // Post-padding, pre-padding, a gap, and a sample with every step skipped.
        let m: [Double] = [1, 0, 1, 0,  1, 0, 0, 0,  1, 1, 1, 0,  0, 1, 1, 0,  0, 1, 0, 0]
        let mask = Tensor(shape: [steps, batch], scalars: m)
        let fused = xw.lstmRecurrence(recurrentKernel: u, returnSequences: returnSequences, mask: mask,
                                      initialState: (h0, c0), returnCell: true)
        let (hs, cLast) = unrolledMasked(xw, u, mask: mask, h0: h0, c0: c0)
        let expectedH = returnSequences ? hs : hs.sliced(axis: 0, (steps - 1)..<steps)
        expectClose(fused, Tensor.concatenated([expectedH, cLast.reshaped(to: [1, batch, 3])], axis: 0), atol: 1e-12, rtol: 1e-12)
        // The sample skipped throughout keeps its initial states.
        expectClose(cLast.sliced(axis: 0, 3..<4), c0.sliced(axis: 0, 3..<4), atol: 0, rtol: 0)
        expectGradients([xw, u, h0, c0]) {
            $0[0].lstmRecurrence(recurrentKernel: $0[1], returnSequences: returnSequences, mask: mask,
                                 initialState: ($0[2], $0[3]), returnCell: true)
        }
        // A mask alone (zero initial states), and float32 against float64.
        expectGradients([xw, u]) { $0[0].lstmRecurrence(recurrentKernel: $0[1], returnSequences: returnSequences, mask: mask) }
        let h32 = xw.cast(to: .float32).lstmRecurrence(recurrentKernel: u.cast(to: .float32), returnSequences: returnSequences,
                                                       mask: mask.cast(to: .float32), initialState: (h0.cast(to: .float32), c0.cast(to: .float32)),
                                                       returnCell: true)
        expectClose(h32.scalarsAsDouble(), fused.asArray(Double.self), atol: 2e-6, rtol: 1e-5)
    }

    /// A batch of several cores' parts (64 units: 16 rows a part): the weights' gradients, which
    /// each part sums step by step into a partial of its own, equal the unrolled ops' (float64),
    /// for the recurrence alone (dU) and with the projection inside (dW, dU, db), masked steps
    /// and initial states included; float32 against float64 too.
    @Test func weightGradientsOverSeveralPartsMatchTheUnrolledOps() {
        let (steps, batch, units, features) = (6, 40, 64, 5)
        #expect(batch / Kernels.lstmRowGrain(units: units) >= 2)
        let x = randn([steps, batch, features], seed: 41), w = randn([features, 4 * units], seed: 42) * 0.3
        let u = randn([units, 4 * units], seed: 43) * 0.2, b = randn([4 * units], seed: 44) * 0.1
        let h0 = randn([batch, units], seed: 45), c0 = randn([batch, units], seed: 46)
        let mask = Tensor(shape: [steps, batch], scalars: (0..<(steps * batch)).map { ($0 * 7) % 5 == 0 ? 0.0 : 1.0 })
        let weights = randn([steps, batch, units], seed: 47)
        func unrolledLoss(_ v: [Tensor]) -> Tensor {
            let xw = v[0].reshaped(to: [steps * batch, features]).matmul(v[1]).reshaped(to: [steps, batch, 4 * units]) + v[3]
            return (unrolledMasked(xw, v[2], mask: mask, h0: v[4], c0: v[5]).0 * weights).sum()
        }
        func fusedLoss(_ v: [Tensor]) -> Tensor {
            (v[0].lstm(kernel: v[1], bias: v[3], recurrentKernel: v[2], returnSequences: true, mask: mask.cast(to: v[0].dtype),
                       initialState: (v[4], v[5])) * weights.cast(to: v[0].dtype)).sum()
        }
        func gradients(_ f: ([Tensor]) -> Tensor, _ dtype: DType) -> [Tensor] {
            let v = [x, w, u, b, h0, c0].map { t -> Tensor in var t = t.cast(to: dtype); t.requiresGrad = true; return t }
            return f(v).gradients(wrt: v)
        }
        let want = gradients(unrolledLoss, .float64)
        for (got, expected) in zip(gradients(fusedLoss, .float64), want) { expectClose(got, expected, atol: 1e-10, rtol: 1e-9) }
        for (got, expected) in zip(gradients(fusedLoss, .float32), want) {
            expectClose(got.scalarsAsDouble(), expected.asArray(Double.self), atol: 2e-4, rtol: 1e-4)
        }
        // The recurrence alone: dU from the hidden states.
        let xw = x.reshaped(to: [steps * batch, features]).matmul(w).reshaped(to: [steps, batch, 4 * units]) + b
        var (xw64, u64) = (xw, u)
        xw64.requiresGrad = true; u64.requiresGrad = true
        let fused = (xw64.lstmRecurrence(recurrentKernel: u64, returnSequences: true, mask: mask) * weights).sum().gradients(wrt: [xw64, u64])
        let zero = Tensor.zeros([batch, units], dtype: .float64)
        let unrolled = (unrolledMasked(xw64, u64, mask: mask, h0: zero, c0: zero).0 * weights).sum().gradients(wrt: [xw64, u64])
        expectClose(fused[1], unrolled[1], atol: 1e-10, rtol: 1e-9)
        expectClose(fused[0], unrolled[0], atol: 1e-10, rtol: 1e-9)
    }

    /// `lstm` (the projection made inside the recurrence) against `matmul(kernel, bias:)` then
    /// `lstmRecurrence`: forward and gradients in float64 (and finite differences for every
    /// operand, with a mask and initial states), and float32 — the own GEMM's packed W and U at
    /// 20 ragged units — against float64.
    @Test(arguments: [false, true])
    func projectionInsideTheRecurrenceMatchesTheComposition(returnSequences: Bool) {
        let (steps, batch, features, units) = (5, 4, 3, 2)
        let x = randn([steps, batch, features], seed: 41), w = randn([features, 4 * units], seed: 42) * 0.8
        let u = randn([units, 4 * units], seed: 43) * 0.5, b = randn([4 * units], seed: 44)
        let h0 = randn([batch, units], seed: 45), c0 = randn([batch, units], seed: 46)
        let mask = Tensor(shape: [steps, batch], scalars: [1, 0, 1, 1,  1, 1, 0, 1,  0, 1, 1, 1,  1, 1, 1, 0,  1, 0, 1, 1] as [Double])
        func fused(_ t: [Tensor]) -> Tensor {
            t[0].lstm(kernel: t[1], bias: t[2], recurrentKernel: t[3], returnSequences: returnSequences, mask: mask,
                      initialState: (t[4], t[5]), returnCell: true)
        }
        func composed(_ t: [Tensor]) -> Tensor {
            t[0].matmul(t[1], bias: t[2]).lstmRecurrence(recurrentKernel: t[3], returnSequences: returnSequences, mask: mask,
                                                         initialState: (t[4], t[5]), returnCell: true)
        }
        let operands = [x, w, b, u, h0, c0]
        expectClose(fused(operands), composed(operands), atol: 1e-12, rtol: 1e-12)
        let weights = randn(fused(operands).shape, seed: 47)
        let check = GradientCheck.run(at: operands) { (fused($0) * weights).sum() }
        print("lstm (projection inside) gradient check max relative error: \(check.maxRelativeError)")
        #expect(check.maxRelativeError <= 1e-6, "\(check)")
        func grads(_ f: ([Tensor]) -> Tensor, _ dtype: DType) -> [Tensor] {
            let vars = operands.map { var v = $0.cast(to: dtype); v.requiresGrad = true; return v }
            return (f(vars) * weights.cast(to: dtype)).sum().gradients(wrt: vars)
        }
        for (a, c) in zip(grads(fused, .float64), grads(composed, .float64)) { expectClose(a, c, atol: 1e-12, rtol: 1e-10) }
        // No bias, no mask, no initial states; float32 against float64.
        let (x2, w2, u2) = (randn([28, 8, 5], seed: 48), randn([5, 80], seed: 49) * 0.5, randn([20, 80], seed: 50) * 0.3)
        let h64 = x2.lstm(kernel: w2, bias: nil, recurrentKernel: u2, returnSequences: returnSequences)
        let h32 = x2.cast(to: .float32).lstm(kernel: w2.cast(to: .float32), bias: nil, recurrentKernel: u2.cast(to: .float32),
                                             returnSequences: returnSequences)
        expectClose(h64, x2.matmul(w2).lstmRecurrence(recurrentKernel: u2, returnSequences: returnSequences), atol: 1e-12, rtol: 1e-12)
        expectClose(h32.scalarsAsDouble(), h64.asArray(Double.self), atol: 2e-6, rtol: 1e-5)
    }

    /// Inference keeps only the cells and hidden states (each core's gates, tanh(c) and product
    /// operands live in one reused buffer): the outputs equal the recording pass's to the bit,
    /// from inputs and from projections, with a mask, initial states and the last cell. With the
    /// weights frozen, the backward pass skips [dU; dW; db] and still gives the same dx, dh_0, dc_0.
    @Test(arguments: [false, true])
    func inferenceAndFrozenWeightsMatchTheRecordingPass(returnSequences: Bool) {
        let (steps, batch, features, units) = (6, 5, 3, 4)
        let mask = Tensor(shape: [steps, batch], scalars: (0..<(steps * batch)).map { $0 % 7 == 3 ? 0 : 1 } as [Float])
        for dtype in [DType.float32, .float64] {
            let x = randn([steps, batch, features], seed: 61).cast(to: dtype), w = (randn([features, 4 * units], seed: 62) * 0.7).cast(to: dtype)
            let u = (randn([units, 4 * units], seed: 63) * 0.5).cast(to: dtype), b = randn([4 * units], seed: 64).cast(to: dtype)
            let h0 = randn([batch, units], seed: 65).cast(to: dtype), c0 = randn([batch, units], seed: 66).cast(to: dtype)
            func run(_ t: [Tensor]) -> (fused: Tensor, projected: Tensor) {
                (t[0].lstm(kernel: t[1], bias: t[2], recurrentKernel: t[3], returnSequences: returnSequences, mask: mask,
                           initialState: (t[4], t[5]), returnCell: true),
                 t[0].matmul(t[1], bias: t[2]).lstmRecurrence(recurrentKernel: t[3], returnSequences: returnSequences,
                                                              mask: mask, initialState: (t[4], t[5]), returnCell: true))
            }
            let plain = [x, w, b, u, h0, c0]
            let inference = withoutGradients { run(plain) }
            let all = plain.map { var v = $0; v.requiresGrad = true; return v }
            let recorded = run(all)
            #expect(inference.fused.scalarsAsDouble() == recorded.fused.scalarsAsDouble())
            #expect(inference.projected.scalarsAsDouble() == recorded.projected.scalarsAsDouble())
            // Frozen weights: only x and the states need gradients.
            let frozen = [all[0], w, b, u, all[4], all[5]]
            let weights = randn(recorded.fused.shape, seed: 67).cast(to: dtype)
            let full = (recorded.fused * weights).sum().gradients(wrt: [all[0], all[4], all[5]])
            let part = (run(frozen).fused * weights).sum().gradients(wrt: [frozen[0], frozen[4], frozen[5]])
            for (a, c) in zip(part, full) { #expect(a.scalarsAsDouble() == c.scalarsAsDouble()) }
        }
    }
}
