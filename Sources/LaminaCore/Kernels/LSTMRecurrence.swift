/// What the LSTM's forward pass keeps for its backward pass.
struct LSTMTape {
    let gates: Tensor, cells: Tensor, cellTanh: Tensor, hidden: Tensor
}

/// The options of one `lstmRecurrence` call: the output's layout, the per-step mask `[T, B]`
/// and the initial states.
struct LSTMOptions {
    let returnSequences: Bool, returnCell: Bool
    let mask: Tensor?
    let initial: (h: Tensor, c: Tensor)?
}

/// The backward pass's gradients.
struct LSTMGradients {
    let dxw: Tensor, du: Tensor?, dh0: Tensor?, dc0: Tensor?
}

extension Kernels {
    /// The forward recurrence over all steps (see `Tensor.lstmRecurrence`): the activated gates
    /// per step [T, B, 4n], the cells c_0...c_T and hidden states h_0...h_T [T+1, B, n], and
    /// tanh(c_1...c_T) [T, B, n] — what the backward pass needs. Where `mask[t, b]` is 0 the
    /// sample's step is skipped: c and h are carried over.
    static func lstmForward<T: FloatScalar>(_: T.Type, _ xw: Tensor, _ u: Tensor, mask: Tensor?,
                                            initial: (h: Tensor, c: Tensor)?) -> LSTMTape {
        let steps = xw.shape[0], batch = xw.shape[1], n = xw.shape[2] / 4, width = 4 * n, rows = batch * n
        // gates: activated i, f, g, o per step [T, B, 4n]; cells: c_0...c_T; hidden: h_0...h_T.
        // Every element is written below; the initial states are zeros or copied in.
        func start(_ s: Tensor?) -> (UnsafeMutableBufferPointer<T>) -> Void {
            { out in
                if let s { s.withUnsafeBuffer(as: T.self) { out.baseAddress!.update(from: $0.baseAddress!, count: rows) } }
                else { out.baseAddress!.initialize(repeating: 0, count: rows) }
            }
        }
        var gates = Tensor.build([steps, batch, width], as: T.self) { _ in }
        var cellTanh = Tensor.build([steps, batch, n], as: T.self) { _ in }
        var cells = Tensor.build([steps + 1, batch, n], as: T.self, start(initial?.c))
        var hidden = Tensor.build([steps + 1, batch, n], as: T.self, start(initial?.h))
        let hasInitialH = initial != nil
        let maskTensor = mask ?? Tensor.zeros([1], dtype: xw.dtype)
        xw.withUnsafeBuffer(as: T.self) { xw in
          maskTensor.withUnsafeBuffer(as: T.self) { mp in
            u.withUnsafeBuffer(as: T.self) { up in
                gates.withUnsafeMutableBuffer(as: T.self) { gp in
                    cells.withUnsafeMutableBuffer(as: T.self) { cp in
                        hidden.withUnsafeMutableBuffer(as: T.self) { hp in
                          cellTanh.withUnsafeMutableBuffer(as: T.self) { tp in
                            nonisolated(unsafe) let p = (xw: xw.baseAddress!, u: up.baseAddress!, z: gp.baseAddress!,
                                                         c: cp.baseAddress!, h: hp.baseAddress!, tc: tp.baseAddress!,
                                                         m: mask == nil ? nil : mp.baseAddress!)
                            // Rows of the batch are independent through time: each core runs the
                            // whole recurrence for its rows, one hand-off per pass instead of per step.
                            Kernels.parallelFor(batch, grain: Kernels.lstmRowGrain(units: n)) { r in
                                let b0 = r.lowerBound, count = r.count
                                for t in 0..<steps {
                                    let z = p.z + t * batch * width + b0 * width
                                    z.update(from: p.xw + t * batch * width + b0 * width, count: count * width)
                                    let state = t * rows + b0 * n, next = (t + 1) * rows + b0 * n
                                    if t > 0 || hasInitialH {  // a zero h_0 contributes nothing
                                        Kernels.blasGemm(false, false, count, width, n, 1, UnsafePointer(p.h + state), n,
                                                         p.u, width, 1, z, width)
                                    }
                                    Kernels.lstmGatesForward(z, rows: count, n: n, cPrev: p.c + state, c: p.c + next,
                                                             tc: p.tc + t * rows + b0 * n, h: p.h + next)
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
                    }
                }
            }
          }
        }
        return LSTMTape(gates: gates, cells: cells, cellTanh: cellTanh, hidden: hidden)
    }

    /// Backpropagation through time: dL/d(xw) [T, B, 4n] and, if needed, dL/dU; dL/dh_0 and
    /// dL/dc_0 when the call had initial states.
    static func lstmBackward<T: FloatScalar>(_: T.Type, _ gOut: Tensor, _ u: Tensor, _ tape: LSTMTape,
                                             _ o: LSTMOptions, needU: Bool) -> LSTMGradients {
        let (gates, cells, cellTanh, hidden) = (tape.gates, tape.cells, tape.cellTanh, tape.hidden)
        let steps = gates.shape[0], batch = gates.shape[1], width = gates.shape[2], n = width / 4, rows = batch * n
        let (returnSequences, returnCell, hasInitial) = (o.returnSequences, o.returnCell, o.initial != nil)
        var dz = Tensor.build([steps, batch, width], as: T.self) { _ in }  // every element is written
        var dh = [T](repeating: 0, count: rows), dc = [T](repeating: 0, count: rows)
        let maskTensor = o.mask ?? Tensor.zeros([1], dtype: gOut.dtype)
        gOut.withUnsafeBuffer(as: T.self) { go in
          maskTensor.withUnsafeBuffer(as: T.self) { mp in
            gates.withUnsafeBuffer(as: T.self) { gp in
                cells.withUnsafeBuffer(as: T.self) { cp in
                  cellTanh.withUnsafeBuffer(as: T.self) { tp in
                    u.withUnsafeBuffer(as: T.self) { up in
                        dz.withUnsafeMutableBuffer(as: T.self) { dzp in
                          dh.withUnsafeMutableBufferPointer { dhp in
                            dc.withUnsafeMutableBufferPointer { dcp in
                                nonisolated(unsafe) let p = (go: go.baseAddress!, a: gp.baseAddress!, c: cp.baseAddress!, tc: tp.baseAddress!,
                                                             u: up.baseAddress!, dz: dzp.baseAddress!, dh: dhp.baseAddress!, dc: dcp.baseAddress!,
                                                             m: o.mask == nil ? nil : mp.baseAddress!)
                                // As in the forward pass, each core runs its rows through all steps.
                                Kernels.parallelFor(batch, grain: Kernels.lstmRowGrain(units: n)) { r in
                                    let b0 = r.lowerBound, count = r.count, dh = p.dh + b0 * n, dc = p.dc + b0 * n
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
                                        Kernels.lstmGatesBackward(p.a + gateRows, tc: p.tc + stateRows, cPrev: p.c + stateRows,
                                                                  dh: dh, dc: dc, dz: d, rows: count, n: n)
                                        if let m = p.m {  // skipped samples: the step had no effect, dz = 0
                                            for b in 0..<count where m[t * batch + b0 + b] == 0 {
                                                (d + b * width).update(repeating: 0, count: width)
                                            }
                                        }
                                        if t > 0 || hasInitial {  // dh_{t-1} = dz_t · Uᵀ
                                            Kernels.blasGemm(false, true, count, n, width, 1, UnsafePointer(d), width, p.u, width, 0, dh, n)
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
                  }
                }
            }
          }
        }
        var dh0: Tensor?, dc0: Tensor?
        if hasInitial {
            dh0 = Tensor(shape: [batch, n], scalars: dh)
            dc0 = Tensor(shape: [batch, n], scalars: dc)
        }
        guard needU else { return LSTMGradients(dxw: dz, du: nil, dh0: dh0, dc0: dc0) }
        // dU = Σ_t h_{t−1}ᵀ · dz_t: one GEMM over all steps, [n, T·B] × [T·B, 4n].
        let du = Tensor.build([n, width], as: T.self) { out in
            hidden.withUnsafeBuffer(as: T.self) { hp in
                dz.withUnsafeBuffer(as: T.self) { dzp in
                    Kernels.gemm(transA: true, transB: false, m: n, n: width, k: steps * batch,
                                 hp.baseAddress!, lda: n, dzp.baseAddress!, ldb: width,
                                 beta: 0, out.baseAddress!, ldc: width)
                }
            }
        }
        return LSTMGradients(dxw: dz, du: du, dh0: dh0, dc0: dc0)
    }
}


/// σ(x) = (1 + tanh(x/2)) / 2: vectorizable for float32, exact to 2e-7 absolute (gates need
/// no relative precision near 0).
@inline(__always) private func gateSigmoid<T: FloatScalar>(_ x: T) -> T {
    if T.self == Float.self { return T(0.5 + 0.5 * Float.fastTanh(0.5 * Float(x))) }
    return 1 / (1 + T.exp(-x))
}

/// tanh without libm's slow `tanhf`: the rational approximation for float32, one `exp` for
/// float64 (exact to a few ulp in absolute terms, which is what the recurrence needs).
@inline(__always) private func fastTanh<T: FloatScalar>(_ x: T) -> T {
    if T.self == Float.self { return T(Float.fastTanh(Float(x))) }
    return 1 - 2 / (T.exp(2 * x) + 1)
}

extension Kernels {
    /// Batch rows per core in the LSTM recurrence for `n` units (see `lstmMinRowWork`).
    static func lstmRowGrain(units n: Int) -> Int {
        Swift.max(1, lstmMinRowWork / Swift.max(1, 4 * n * n))
    }

    /// One step's gates for `rows` batch rows, in place on z [rows, 4n] (i, f, g, o):
    /// activations, then c = f·c_prev + i·g, tc = tanh(c), h = o·tc.
    static func lstmGatesForward<T: FloatScalar>(_ z: UnsafeMutablePointer<T>, rows: Int, n: Int, cPrev: UnsafeMutablePointer<T>,
                                                 c: UnsafeMutablePointer<T>, tc: UnsafeMutablePointer<T>, h: UnsafeMutablePointer<T>) {
        if T.self == Float.self {
            simd.lstm_forward(floats(z), rows, n, floats(cPrev), floats(c), floats(tc), floats(h))
            return
        }
        let width = 4 * n
        for b in 0..<rows {
            // Short loops over contiguous rows, so each one vectorizes.
            let zb = z + b * width, o = b * n
            for j in 0..<(2 * n) { zb[j] = gateSigmoid(zb[j]) }                  // i, f
            for j in (2 * n)..<(3 * n) { zb[j] = fastTanh(zb[j]) }               // g
            for j in (3 * n)..<width { zb[j] = gateSigmoid(zb[j]) }              // o
            let c = c + o, tc = tc + o, h = h + o, cp = cPrev + o
            for j in 0..<n { c[j] = zb[n + j] * cp[j] + zb[j] * zb[2 * n + j] }  // f·c + i·g
            for j in 0..<n { tc[j] = fastTanh(c[j]) }
            for j in 0..<n { h[j] = zb[3 * n + j] * tc[j] }                      // o·tanh(c)
        }
    }

    /// One step's backward for `rows` rows: from the gates `a`, tanh(c) and c_prev and the
    /// incoming dh, writes dz and turns dc into dc_prev = (dc + dh·o·(1 − tanh²c))·f.
    static func lstmGatesBackward<T: FloatScalar>(_ a: UnsafePointer<T>, tc: UnsafePointer<T>, cPrev: UnsafePointer<T>,
                                                  dh: UnsafeMutablePointer<T>, dc: UnsafeMutablePointer<T>, dz: UnsafeMutablePointer<T>,
                                                  rows: Int, n: Int) {
        if T.self == Float.self {
            simd.lstm_backward(floats(a), floats(tc), floats(cPrev), floats(dh), floats(dc), floats(dz), rows, n)
            return
        }
        let width = 4 * n
        for b in 0..<rows {
            // Contiguous passes of n, so each vectorizes.
            let ab = a + b * width, db = dz + b * width, o = b * n
            let tc = tc + o, dhb = dh + o, dcb = dc + o, cp = cPrev + o
            for j in 0..<n { dcb[j] += dhb[j] * ab[3 * n + j] * (1 - tc[j] * tc[j]) }  // dc += dh·o·(1 − tanh²c)
            for j in 0..<n { let out = ab[3 * n + j]; db[3 * n + j] = dhb[j] * tc[j] * out * (1 - out) }  // dz_o
            for j in 0..<n { let i = ab[j]; db[j] = dcb[j] * ab[2 * n + j] * i * (1 - i) }              // dz_i
            for j in 0..<n { let f = ab[n + j]; db[n + j] = dcb[j] * cp[j] * f * (1 - f) }              // dz_f
            for j in 0..<n { let g = ab[2 * n + j]; db[2 * n + j] = dcb[j] * ab[j] * (1 - g * g) }      // dz_g
            for j in 0..<n { dcb[j] *= ab[n + j] }                                                      // dc_{t−1} = dc·f
        }
    }
}
