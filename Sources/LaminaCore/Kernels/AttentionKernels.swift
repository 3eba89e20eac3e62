import Foundation

/// The shapes of one attention call, heads kept in place: query `[b, tq, h, d]`, key
/// `[b, tk, h, d]`, value `[b, tk, h, dv]` (Keras's projected layout), probabilities
/// `[b, h, tq, tk]`. Each (batch, head) pair reads its rows with a stride of `h·d`, so no
/// transposes are made: the GEMMs take the strides as leading dimensions.
struct AttentionGeometry {
    let b: Int, tq: Int, tk: Int, h: Int, d: Int, dv: Int
    /// Query rows per work unit: a block's scores (`attentionRowBlock × tk`) stay in a core's
    /// cache between the GEMM, the mask, the softmax and the value GEMM.
    static let rowBlock = 64
    var blocks: Int { (tq + Self.rowBlock - 1) / Self.rowBlock }

    /// A work unit: a block of `rows` query rows from `r0` of one (batch `bi`, head `hi`) pair.
    struct Unit { let pair: Int, bi: Int, hi: Int, r0: Int, rows: Int }
    /// Work unit `index` of `b·h·blocks`, pairs outermost.
    func unit(_ index: Int) -> Unit {
        let (pair, block) = index.quotientAndRemainder(dividingBy: blocks)
        let (bi, hi) = pair.quotientAndRemainder(dividingBy: h)
        let r0 = block * Self.rowBlock
        return Unit(pair: pair, bi: bi, hi: hi, r0: r0, rows: Swift.min(Self.rowBlock, tq - r0))
    }
}

extension Kernels {
    /// The logit a masked position gets before the softmax (`where(mask, s, -big)`, as Keras's
    /// `dot_product_attention`): a row with every position masked becomes uniform, not NaN.
    @inline(__always) static func maskedLogit<T: FloatScalar>(_: T.Type) -> T { -T.greatestFiniteMagnitude * T(0.7) }

    /// Whether query row `i` may attend key `j`: the explicit mask (`[b, tq, tk]`, nonzero
    /// attends) and the causal rule `j ≤ i`.
    @inline(__always)
    static func attends<T: FloatScalar>(_ mask: UnsafeBufferPointer<T>?, _ g: AttentionGeometry, _ bi: Int, _ i: Int, _ j: Int,
                                        causal: Bool) -> Bool {
        if causal && j > i { return false }
        if let mask, mask[(bi * g.tq + i) * g.tk + j] == 0 { return false }
        return true
    }

    /// P = softmax(where(mask, scale·Q·Kᵀ, −big)) per (batch, head), in blocks of query rows:
    /// the scores GEMM writes straight into P's rows, which are masked and normalized while
    /// they are still in cache.
    static func attentionProbabilities<T: FloatScalar>(_: T.Type, _ q: Tensor, _ k: Tensor, mask: Tensor?, causal: Bool,
                                                        scale: T, _ g: AttentionGeometry) -> Tensor {
        q.withUnsafeBuffer(as: T.self) { pq in
            k.withUnsafeBuffer(as: T.self) { pk in
                withOptionalBuffer(mask, T.self) { pm in
                    Tensor.build([g.b, g.h, g.tq, g.tk], as: T.self) { out in
                        guard g.tk > 0, g.tq > 0 else { return }
                        let units = g.b * g.h * g.blocks
                        parallelFor(units, grain: Swift.max(1, parallelThreshold / Swift.max(AttentionGeometry.rowBlock * g.tk * Swift.max(g.d, 1), 1))) { range in
                            for unit in range {
                                let u = g.unit(unit)
                                probabilityBlock(out.baseAddress! + (u.pair * g.tq + u.r0) * g.tk, u, pq, pk, pm,
                                                 causal: causal, scale: scale, g)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The gradients of `attentionProbabilities` for the probabilities' gradient `dp`: the
    /// softmax Jacobian applied row by row into a new buffer (dS = P ⊙ (dP − Σ dP⊙P), zero where
    /// masked), then dQ = scale·dS·K and dK = scale·dSᵀ·Q per (batch, head).
    static func attentionProbabilitiesBackward<T: FloatScalar>(_: T.Type, _ dp: Tensor, _ p: Tensor, _ q: Tensor, _ k: Tensor,
                                                                mask: Tensor?, causal: Bool, scale: T,
                                                                _ g: AttentionGeometry) -> (Tensor, Tensor) {
        guard g.tq > 0, g.tk > 0, g.d > 0 else { return (Tensor.zeros(q.shape, dtype: q.dtype), Tensor.zeros(k.shape, dtype: k.dtype)) }
        // dS is written whole below; dQ and dK whole by their GEMMs (β = 0). The three were just
        // built here, so the kernels write into them.
        let ds = Tensor.build(dp.shape, as: T.self) { _ in }
        let dq = Tensor.build(q.shape, as: T.self) { _ in }, dk = Tensor.build(k.shape, as: T.self) { _ in }
        withOptionalBuffer(mask, T.self) { pm in
            withBaseAddresses(T.self, [dp, p, q, k, ds, dq, dk]) { ptr in
                let (pdp, pp, pq, pk, pds, pdq, pdk) = (ptr[0]!, ptr[1]!, ptr[2]!, ptr[3]!, ptr[4]!, ptr[5]!, ptr[6]!)
                parallelFor(g.b * g.h) { range in
                    for pair in range {
                        let (bi, hi) = pair.quotientAndRemainder(dividingBy: g.h)
                        let s = pds + pair * g.tq * g.tk, pr = pp + pair * g.tq * g.tk, dpr = pdp + pair * g.tq * g.tk
                        CKernels<T>.softmaxBackwardRows(dpr, pr, s, g.tq, g.tk)
                        if pm != nil || causal {
                            for i in 0..<g.tq {
                                let row = s + i * g.tk
                                for j in 0..<g.tk where !attends(pm, g, bi, i, j, causal: causal) { row[j] = 0 }
                            }
                        }
                        let qOff = bi * g.tq * g.h * g.d + hi * g.d, kOff = bi * g.tk * g.h * g.d + hi * g.d
                        gemmOnThisThread(false, false, g.tq, g.d, g.tk, scale, s, g.tk, pk + kOff, g.h * g.d, 0, pdq + qOff, g.h * g.d)
                        gemmOnThisThread(true, false, g.tk, g.d, g.tq, scale, s, g.tk, pq + qOff, g.h * g.d, 0, pdk + kOff, g.h * g.d)
                    }
                }
            }
        }
        return (dq, dk)
    }

    /// softmax(where(mask, scale·Q·Kᵀ, −big))·V without keeping the probabilities (inference):
    /// each block of query rows gets its scores in a per-chunk scratch buffer that stays in
    /// cache through the GEMM, the mask, the softmax and the value GEMM.
    static func attentionFused<T: FloatScalar>(_: T.Type, _ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, causal: Bool,
                                                scale: T, _ g: AttentionGeometry) -> Tensor {
        q.withUnsafeBuffer(as: T.self) { pq in
            k.withUnsafeBuffer(as: T.self) { pk in
                v.withUnsafeBuffer(as: T.self) { pv in
                    withOptionalBuffer(mask, T.self) { pm in
                        Tensor.build([g.b, g.tq, g.h, g.dv], as: T.self) { out in
                            if g.tk == 0 { out.initialize(repeating: 0) }
                            guard g.tk > 0, g.tq > 0, g.dv > 0 else { return }
                            let units = g.b * g.h * g.blocks
                            parallelFor(units, grain: Swift.max(1, parallelThreshold / Swift.max(AttentionGeometry.rowBlock * g.tk * Swift.max(g.d + g.dv, 1), 1))) { range in
                                let scratch = UnsafeMutablePointer<T>.allocate(capacity: AttentionGeometry.rowBlock * g.tk)
                                defer { scratch.deallocate() }
                                for unit in range {
                                    let u = g.unit(unit), (bi, hi, r0, rows, p) = (u.bi, u.hi, u.r0, u.rows, scratch)
                                    probabilityBlock(p, u, pq, pk, pm, causal: causal, scale: scale, g)
                                    gemmOnThisThread(false, false, rows, g.dv, g.tk, 1, p, g.tk,
                                                     pv.baseAddress! + bi * g.tk * g.h * g.dv + hi * g.dv, g.h * g.dv,
                                                     0, out.baseAddress! + ((bi * g.tq + r0) * g.h + hi) * g.dv, g.h * g.dv)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The masked softmax(scale·Q·Kᵀ) of one work unit's query rows, written into `p`
    /// (`rows × tk`).
    @inline(__always)
    static func probabilityBlock<T: FloatScalar>(_ p: UnsafeMutablePointer<T>, _ u: AttentionGeometry.Unit,
                                                 _ pq: UnsafeBufferPointer<T>, _ pk: UnsafeBufferPointer<T>,
                                                 _ pm: UnsafeBufferPointer<T>?, causal: Bool, scale: T, _ g: AttentionGeometry) {
        if g.d == 0 {
            p.initialize(repeating: 0, count: u.rows * g.tk)
        } else {
            gemmOnThisThread(false, true, u.rows, g.tk, g.d, scale,
                             pq.baseAddress! + ((u.bi * g.tq + u.r0) * g.h + u.hi) * g.d, g.h * g.d,
                             pk.baseAddress! + u.bi * g.tk * g.h * g.d + u.hi * g.d, g.h * g.d, 0, p, g.tk)
        }
        softmaxBlock(T.self, p, rows: u.rows, r0: u.r0, bi: u.bi, pm, causal: causal, g)
    }

    /// The masked softmax of `rows` score rows (query rows r0...) of batch `bi`, in place.
    @inline(__always)
    static func softmaxBlock<T: FloatScalar>(_: T.Type, _ p: UnsafeMutablePointer<T>, rows: Int, r0: Int, bi: Int,
                                             _ pm: UnsafeBufferPointer<T>?, causal: Bool, _ g: AttentionGeometry) {
        if pm != nil || causal {
            for r in 0..<rows {
                let row = p + r * g.tk, i = r0 + r
                for j in 0..<g.tk where !attends(pm, g, bi, i, j, causal: causal) { row[j] = maskedLogit(T.self) }
            }
        }
        CKernels<T>.softmaxRows(p, rows, g.tk)
    }

    /// O[b, i, h, :] = Σⱼ P[b, h, i, j] · V[b, j, h, :] per (batch, head), in row blocks.
    static func attentionCombine<T: FloatScalar>(_: T.Type, _ p: Tensor, _ v: Tensor, _ g: AttentionGeometry) -> Tensor {
        p.withUnsafeBuffer(as: T.self) { pp in
            v.withUnsafeBuffer(as: T.self) { pv in
                Tensor.build([g.b, g.tq, g.h, g.dv], as: T.self) { out in
                    if g.tk == 0 { out.initialize(repeating: 0) }
                    guard g.tk > 0, g.tq > 0, g.dv > 0 else { return }
                    parallelFor(g.b * g.h * g.blocks, grain: Swift.max(1, parallelThreshold / Swift.max(AttentionGeometry.rowBlock * g.tk * g.dv, 1))) { range in
                        for unit in range {
                            let (pair, block) = unit.quotientAndRemainder(dividingBy: g.blocks)
                            let (bi, hi) = pair.quotientAndRemainder(dividingBy: g.h)
                            let r0 = block * AttentionGeometry.rowBlock, rows = Swift.min(AttentionGeometry.rowBlock, g.tq - r0)
                            gemmOnThisThread(false, false, rows, g.dv, g.tk, 1, pp.baseAddress! + (pair * g.tq + r0) * g.tk, g.tk,
                                             pv.baseAddress! + bi * g.tk * g.h * g.dv + hi * g.dv, g.h * g.dv,
                                             0, out.baseAddress! + ((bi * g.tq + r0) * g.h + hi) * g.dv, g.h * g.dv)
                        }
                    }
                }
            }
        }
    }

    /// The gradients of `attentionCombine`: dP = dO·Vᵀ and dV = Pᵀ·dO per (batch, head).
    static func attentionCombineBackward<T: FloatScalar>(_: T.Type, _ dout: Tensor, _ p: Tensor, _ v: Tensor, needP: Bool, needV: Bool,
                                                          _ g: AttentionGeometry) -> (Tensor?, Tensor?) {
        guard g.tq > 0, g.tk > 0, g.dv > 0 else {
            return (needP ? Tensor.zeros(p.shape, dtype: p.dtype) : nil, needV ? Tensor.zeros(v.shape, dtype: v.dtype) : nil)
        }
        // Written whole by the GEMMs below (β = 0).
        var dp: Tensor? = needP ? Tensor.build(p.shape, as: T.self) { _ in } : nil
        var dv: Tensor? = needV ? Tensor.build(v.shape, as: T.self) { _ in } : nil
        dout.withUnsafeBuffer(as: T.self) { po in
            p.withUnsafeBuffer(as: T.self) { pp in
                v.withUnsafeBuffer(as: T.self) { pv in
                    withOptionalMutable(&dp, T.self) { pdp in
                        withOptionalMutable(&dv, T.self) { pdv in
                            parallelFor(g.b * g.h) { range in
                                for pair in range {
                                    let (bi, hi) = pair.quotientAndRemainder(dividingBy: g.h)
                                    let oOff = bi * g.tq * g.h * g.dv + hi * g.dv, vOff = bi * g.tk * g.h * g.dv + hi * g.dv
                                    if let pdp {
                                        gemmOnThisThread(false, true, g.tq, g.tk, g.dv, 1, po.baseAddress! + oOff, g.h * g.dv,
                                                         pv.baseAddress! + vOff, g.h * g.dv, 0, pdp.baseAddress! + pair * g.tq * g.tk, g.tk)
                                    }
                                    if let pdv {
                                        gemmOnThisThread(true, false, g.tk, g.dv, g.tq, 1, pp.baseAddress! + pair * g.tq * g.tk, g.tk,
                                                         po.baseAddress! + oOff, g.h * g.dv, 0, pdv.baseAddress! + vOff, g.h * g.dv)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dp, dv)
    }

    private static func withOptionalBuffer<T: FloatScalar, R>(_ t: Tensor?, _: T.Type, _ body: (UnsafeBufferPointer<T>?) -> R) -> R {
        guard let t else { return body(nil) }
        return t.withUnsafeBuffer(as: T.self) { body($0) }
    }

    private static func withOptionalMutable<T: FloatScalar, R>(_ t: inout Tensor?, _: T.Type, _ body: (UnsafeMutableBufferPointer<T>?) -> R) -> R {
        guard var value = t else { return body(nil) }
        t = nil   // unique, so the write below does not copy
        let r = value.withUnsafeMutableBuffer(as: T.self) { body($0) }
        t = value
        return r
    }
}
