/// What the LSTM's forward pass keeps for its backward pass.
struct LSTMTape {
    let gates: Tensor, cells: Tensor, cellTanh: Tensor, hidden: Tensor
    /// From inputs (`LSTMInput.inputs`): each step's product operand `[h_{t-1} | x_t | 1]`
    /// `[T, B, n + F (+ 1 with a bias)]`, whose transpose times dz gives dU, dW and db in one GEMM.
    let operands: Tensor?
}

/// The options of one `lstmRecurrence` call: the output's layout, the per-step mask `[T, B]`
/// and the initial states.
struct LSTMOptions {
    let returnSequences: Bool, returnCell: Bool
    let mask: Tensor?
    let initial: (h: Tensor, c: Tensor)?
}

/// Where the gates' pre-activations come from: the input projections `x_t·W + b` of all steps,
/// computed before the recurrence (`Tensor.lstmRecurrence`), or the inputs with the kernel and
/// bias, each block of rows projected inside the recurrence straight into its gates (`Tensor.lstm`).
enum LSTMInput {
    /// `[T, B, 4n]`.
    case projected(Tensor)
    /// `x` `[T, B, F]`, `kernel` `[F, 4n]`, `bias` `[4n]`.
    case inputs(x: Tensor, kernel: Tensor, bias: Tensor?)

    /// The tensor whose rows feed each step: the projections or the inputs.
    var source: Tensor {
        switch self {
        case .projected(let xw): xw
        case .inputs(let x, _, _): x
        }
    }
}

/// The backward pass's gradients.
struct LSTMGradients {
    /// dL/dz [T, B, 4n]; the weights' gradient Σ_t a_tᵀ·dz_t [k, 4n] when asked for (see
    /// `Kernels.lstmBackward`); dL/dh_0 and dL/dc_0 with initial states.
    let dxw: Tensor, dweights: Tensor?, dh0: Tensor?, dc0: Tensor?
}

extension Kernels {
    /// The forward recurrence over all steps (see `Tensor.lstmRecurrence`): the activated gates
    /// per step [T, B, 4n], the cells c_0...c_T and hidden states h_0...h_T [T+1, B, n], and
    /// tanh(c_1...c_T) [T, B, n] — what the backward pass needs. Where `mask[t, b]` is 0 the
    /// sample's step is skipped: c and h are carried over. With `keep` false (nothing records:
    /// inference), the gates, tanh(c) and product operands of a step live in one scratch
    /// buffer per core, reused step after step, and the tape's `gates`, `cellTanh` and
    /// `operands` are empty: only the cells and hidden states are kept.
    static func lstmForward<T: FloatScalar>(_: T.Type, _ input: LSTMInput, _ u: Tensor, mask: Tensor?,
                                            initial: (h: Tensor, c: Tensor)?, keep: Bool) -> LSTMTape {
        let source = input.source, steps = source.shape[0], batch = source.shape[1], features = source.shape[2]
        let n = u.shape[0], width = 4 * n, rows = batch * n
        // gates: activated i, f, g, o per step [T, B, 4n]; cells: c_0...c_T; hidden: h_0...h_T.
        // Every element is written below; the initial states are zeros or copied in.
        func start(_ s: Tensor?) -> (UnsafeMutableBufferPointer<T>) -> Void {
            { out in
                if let s { s.withUnsafeBuffer(as: T.self) { out.baseAddress!.update(from: $0.baseAddress!, count: rows) } }
                else { out.baseAddress!.initialize(repeating: 0, count: rows) }
            }
        }
        let kept = keep ? steps : 0  // steps whose gates, tanh(c) and operands the tape keeps
        let gates = Tensor.build([kept, batch, width], as: T.self) { _ in }
        let cellTanh = Tensor.build([kept, batch, n], as: T.self) { _ in }
        let cells = Tensor.build([steps + 1, batch, n], as: T.self, start(initial?.c))
        let hidden = Tensor.build([steps + 1, batch, n], as: T.self, start(initial?.h))
        let hasInitialH = initial != nil
        // From inputs, each step is one product [h_{t-1} | x_t | 1] · [U; W; b]: the projection,
        // the bias and the recurrent term in one pass over z. From projections, z = xw_t + h·U.
        var weights = u, operands: Tensor?, k = n
        if case .inputs(_, let w, let b) = input {
            weights = Tensor.concatenated([u.detached(), w.detached()] + (b.map { [$0.detached().reshaped(to: [1, width])] } ?? []), axis: 0)
            k = weights.shape[0]
            operands = Tensor.build([kept, batch, k], as: T.self) { _ in }  // every row is written below
        }
        let bias = k > n + features
        // gates, cells, hidden, cellTanh and operands were just built here: the kernels write into them.
        withBaseAddresses(T.self, [source, mask, weights, gates, cells, hidden, cellTanh, operands]) { ptr in
            nonisolated(unsafe) let p = (src: ptr[0]!, m: ptr[1], w: ptr[2]!, z: ptr[3]!, c: ptr[4]!, h: ptr[5]!, tc: ptr[6]!, a: ptr[7])
            // The weights [k, 4n] packed once for all the steps.
            Kernels.withRepeatedProduct(transB: false, n: width, k: k, UnsafePointer(p.w), ldb: width, rows: batch) { product in
                // Rows of the batch are independent through time: each core runs the
                // whole recurrence for its rows, one hand-off per pass instead of per step.
                Kernels.parallelFor(batch, grain: Kernels.lstmRowGrain(units: n)) { r in
                    let b0 = r.lowerBound, count = r.count
                    // Inference: this core's step buffers (gates, tanh(c), operands), reused.
                    let scratch = keep ? nil : UnsafeMutablePointer<T>.allocate(capacity: count * (width + n + k))
                    defer { scratch?.deallocate() }
                    for t in 0..<steps {
                        let z = scratch ?? p.z + t * batch * width + b0 * width
                        let tc = scratch.map { $0 + count * width } ?? p.tc + t * rows + b0 * n
                        let sourceRows = p.src + t * batch * features + b0 * features
                        let state = t * rows + b0 * n, next = (t + 1) * rows + b0 * n
                        if let operands = p.a {
                            let a = scratch.map { $0 + count * (width + n) } ?? operands + t * batch * k + b0 * k
                            for row in 0..<count {
                                (a + row * k).update(from: p.h + state + row * n, count: n)
                                (a + row * k + n).update(from: sourceRows + row * features, count: features)
                                if bias { a[row * k + n + features] = 1 }
                            }
                            if t > 0 || hasInitialH {
                                product(m: count, UnsafePointer(a), lda: k, beta: 0, z, ldc: width)
                            } else {  // h_0 = 0: [x_0 | 1] · [W; b] alone
                                Kernels.gemmOnThisThread(false, false, count, width, k - n, 1, UnsafePointer(a + n), k,
                                                         UnsafePointer(p.w + n * width), width, 0, z, width)
                            }
                        } else {
                            z.update(from: sourceRows, count: count * width)
                            if t > 0 || hasInitialH {  // a zero h_0 contributes nothing
                                product(m: count, UnsafePointer(p.h + state), lda: n, beta: 1, z, ldc: width)
                            }
                        }
                        CKernels<T>.lstmForward(z, count, n, p.c + state, p.c + next, tc, p.h + next)
                        if let m = p.m {  // skipped steps carry c and h over
                            for b in 0..<count where m[t * batch + b0 + b] == 0 {
                                (p.c + next + b * n).update(from: p.c + state + b * n, count: n)
                                (p.h + next + b * n).update(from: p.h + state + b * n, count: n)
                            }
                        }
                    }
                }
            }
        }
        return LSTMTape(gates: gates, cells: cells, cellTanh: cellTanh, hidden: hidden, operands: operands)
    }

    /// Backpropagation through time: dL/d(xw) [T, B, 4n]; dL/dh_0 and dL/dc_0 when the call had
    /// initial states; and with `weightOperands` a [≥ T, B, k] (step t's rows at t·B·k: the
    /// hidden states h_0…h_{T−1} for dL/dU, or the tape's `[h_{t−1} | x_t | 1]` operands for
    /// dL/d[U; W; b]), the weights' gradient Σ_t a_tᵀ·dz_t [k, 4n]. Each core adds its rows'
    /// share of that sum step by step while dz_t and a_t are in its cache, into a partial sum of
    /// its own (the partials are added at the end), instead of one GEMM over all steps that
    /// reads dz back from memory.
    static func lstmBackward<T: FloatScalar>(_: T.Type, _ gOut: Tensor, _ u: Tensor, _ tape: LSTMTape,
                                             _ o: LSTMOptions, weightOperands: Tensor?) -> LSTMGradients {
        let (gates, cells, cellTanh) = (tape.gates, tape.cells, tape.cellTanh)
        let steps = gates.shape[0], batch = gates.shape[1], width = gates.shape[2], n = width / 4, rows = batch * n
        let (returnSequences, returnCell, hasInitial) = (o.returnSequences, o.returnCell, o.initial != nil)
        let dz = Tensor.build([steps, batch, width], as: T.self) { _ in }  // every element is written
        let dh = Tensor.zeros([batch, n], dtype: T.dtype), dc = Tensor.zeros([batch, n], dtype: T.dtype)
        // Rows of the batch are independent through time: each part (a core's rows) runs all steps.
        let grain = Kernels.lstmRowGrain(units: n)
        let parts = Swift.max(1, Swift.min(ThreadCount.current, batch / grain))
        let kw = weightOperands?.shape[2] ?? 0
        var partial = [T](repeating: 0, count: parts * kw * width)
        // dz, dh and dc were just made here: the kernels write into them.
        withBaseAddresses(T.self, [gOut, o.mask, gates, cells, cellTanh, u, dz, dh, dc, weightOperands]) { ptr in
            partial.withUnsafeMutableBufferPointer { partial in
                nonisolated(unsafe) let p = (go: ptr[0]!, m: ptr[1], a: ptr[2]!, c: ptr[3]!, tc: ptr[4]!, u: ptr[5]!,
                                             dz: ptr[6]!, dh: ptr[7]!, dc: ptr[8]!, wo: ptr[9], partial: partial.baseAddress)
                // dh_{t-1} = dz_t · Uᵀ at every step: Uᵀ packed once for all of them.
                Kernels.withRepeatedProduct(transB: true, n: n, k: width, UnsafePointer(p.u), ldb: width, rows: batch / parts) { dzUt in
                    Kernels.parallelFor(parts) { range in
                        for part in range {
                            let b0 = batch * part / parts, count = batch * (part + 1) / parts - b0
                            let dh = p.dh + b0 * n, dc = p.dc + b0 * n
                            // A skipped step passes dh and dc through unchanged: kept here over the GEMM.
                            var kept = [T](repeating: 0, count: p.m == nil ? 0 : 2 * count * n)
                            if returnCell {  // the last row of the output is c_T
                                let g = p.go + (returnSequences ? steps * rows : rows) + b0 * n
                                for i in 0..<(count * n) { dc[i] += g[i] }
                            }
                            for t in stride(from: steps - 1, through: 0, by: -1) {
                                // dh = dL/dh_t from the output plus what flowed back from step t+1.
                                if returnSequences || t == steps - 1 {
                                    let g = p.go + (returnSequences ? t * rows : 0) + b0 * n
                                    for i in 0..<(count * n) { dh[i] += g[i] }
                                }
                                let gateRows = t * batch * width + b0 * width, stateRows = t * rows + b0 * n
                                let d = p.dz + gateRows
                                if let m = p.m {
                                    for b in 0..<count where m[t * batch + b0 + b] == 0 {
                                        for j in 0..<n { kept[2 * b * n + j] = dh[b * n + j]; kept[(2 * b + 1) * n + j] = dc[b * n + j] }
                                    }
                                }
                                CKernels<T>.lstmBackward(p.a + gateRows, p.tc + stateRows, p.c + stateRows, dh, dc, d, count, n)
                                if let m = p.m {  // skipped samples: the step had no effect, dz = 0
                                    for b in 0..<count where m[t * batch + b0 + b] == 0 {
                                        (d + b * width).update(repeating: 0, count: width)
                                    }
                                }
                                if let wo = p.wo, let sum = p.partial {  // this part's a_tᵀ · dz_t
                                    Kernels.gemmOnThisThread(true, false, kw, width, count, 1, UnsafePointer(wo + (t * batch + b0) * kw), kw,
                                                             UnsafePointer(d), width, 1, sum + part * kw * width, width)
                                }
                                if t > 0 || hasInitial {  // dh_{t-1} = dz_t · Uᵀ
                                    dzUt(m: count, UnsafePointer(d), lda: width, beta: 0, dh, ldc: n)
                                }
                                if let m = p.m {
                                    for b in 0..<count where m[t * batch + b0 + b] == 0 {
                                        for j in 0..<n { dh[b * n + j] = kept[2 * b * n + j]; dc[b * n + j] = kept[(2 * b + 1) * n + j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let dh0: Tensor? = hasInitial ? dh : nil, dc0: Tensor? = hasInitial ? dc : nil
        guard weightOperands != nil else { return LSTMGradients(dxw: dz, dweights: nil, dh0: dh0, dc0: dc0) }
        let dweights = Kernels.summedParts(partial, parts: parts, size: kw * width, shape: [kw, width])
        return LSTMGradients(dxw: dz, dweights: dweights, dh0: dh0, dc0: dc0)
    }
}

extension Kernels {
    /// Batch rows per core in the LSTM recurrence for `n` units (see `lstmMinRowWork`).
    static func lstmRowGrain(units n: Int) -> Int {
        Swift.max(1, lstmMinRowWork / Swift.max(1, 4 * n * n))
    }
}
