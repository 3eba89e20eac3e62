import Foundation

// Scaled dot-product attention with the heads kept in Keras's projected layout
// (`[batch, steps, heads, dim]`): two fused ops, each one kernel pass per (batch, head)
// that reads its rows through BLAS leading dimensions (no transposes).
//   attentionProbabilities: P = softmax(where(mask, scale · Q·Kᵀ, −big))   (GEMM + mask + softmax)
//   attentionCombine:       O = P·V                                          (GEMM)
// Layers put dropout on P between the two; `scaledDotProductAttention` is both in a row.

extension Tensor {
    /// The attention probabilities `softmax(where(mask, scale · q·kᵀ, −big))` over the key axis,
    /// per batch and head. Keras: the scores of `MultiHeadAttention` (`return_attention_scores`).
    ///
    /// Shapes: `query [b, tq, h, d]`, `key [b, tk, h, d]`, `mask [b, tq, tk]` (nonzero attends;
    /// any float dtype) → `[b, h, tq, tk]`. `causal` also hides key `j > i` from query `i`.
    /// A query row with every key hidden gets uniform probabilities (as Keras), never NaN;
    /// its gradient is zero.
    public static func attentionProbabilities(query: Tensor, key: Tensor, mask: Tensor? = nil, causal: Bool = false,
                                              scale: Double) -> Tensor {
        precondition(query.rank == 4 && key.rank == 4 && query.shape[0] == key.shape[0] && query.shape[2] == key.shape[2]
                     && query.shape[3] == key.shape[3] && query.dtype == key.dtype,
                     "attentionProbabilities: query \(query.shape) and key \(key.shape) must be [b, tq, h, d] and [b, tk, h, d] of one dtype")
        let g = AttentionGeometry(b: query.shape[0], tq: query.shape[1], tk: key.shape[1], h: query.shape[2], d: query.shape[3], dv: 0)
        let m = mask.map { $0.detached().cast(to: query.dtype) }
        if let m {
            precondition(m.shape == [g.b, g.tq, g.tk], "attentionProbabilities: mask \(m.shape) must be [\(g.b), \(g.tq), \(g.tk)]")
        }
        let q = query.detached(), k = key.detached()
        let p: Tensor
        if query.isFloat32("attentionProbabilities") {
            p = Kernels.attentionProbabilities(Float.self, q, k, mask: m, causal: causal, scale: Float(scale), g)
        } else {
            p = Kernels.attentionProbabilities(Double.self, q, k, mask: m, causal: causal, scale: scale, g)
        }
        let pd = p.detached()
        return p.recorded("attentionProbabilities", inputs: [query, key]) { grad, _ in
            let (dq, dk) = q.dtype == .float32
                ? Kernels.attentionProbabilitiesBackward(Float.self, grad, pd, q, k, mask: m, causal: causal, scale: Float(scale), g)
                : Kernels.attentionProbabilitiesBackward(Double.self, grad, pd, q, k, mask: m, causal: causal, scale: scale, g)
            return [dq, dk]
        }
    }

    /// The attention output `O[b, i, h, :] = Σⱼ P[b, h, i, j] · V[b, j, h, :]`.
    /// Shapes: `probabilities [b, h, tq, tk]`, `value [b, tk, h, dv]` → `[b, tq, h, dv]`.
    public static func attentionCombine(probabilities: Tensor, value: Tensor) -> Tensor {
        precondition(probabilities.rank == 4 && value.rank == 4 && probabilities.shape[0] == value.shape[0]
                     && probabilities.shape[1] == value.shape[2] && probabilities.shape[3] == value.shape[1]
                     && probabilities.dtype == value.dtype,
                     "attentionCombine: probabilities \(probabilities.shape) and value \(value.shape) must be [b, h, tq, tk] and [b, tk, h, dv] of one dtype")
        let s = probabilities.shape
        let g = AttentionGeometry(b: s[0], tq: s[2], tk: s[3], h: s[1], d: 0, dv: value.shape[3])
        let p = probabilities.detached(), v = value.detached()
        let out = p.isFloat32("attentionCombine") ? Kernels.attentionCombine(Float.self, p, v, g) : Kernels.attentionCombine(Double.self, p, v, g)
        return out.recorded("attentionCombine", inputs: [probabilities, value]) { grad, needed in
            let (dp, dv) = p.dtype == .float32
                ? Kernels.attentionCombineBackward(Float.self, grad, p, v, needP: needed[0], needV: needed[1], g)
                : Kernels.attentionCombineBackward(Double.self, grad, p, v, needP: needed[0], needV: needed[1], g)
            return [dp, dv]
        }
    }

    /// Scaled dot-product attention, `softmax(where(mask, scale · q·kᵀ, −big)) · v` per batch and
    /// head. Keras: `ops.dot_product_attention` (in the `[batch, steps, heads, dim]` layout).
    /// Shapes: `query [b, tq, h, d]`, `key [b, tk, h, d]`, `value [b, tk, h, dv]`,
    /// `mask [b, tq, tk]` → `[b, tq, h, dv]`. `scale` defaults to `1/√d`.
    public static func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil,
                                                 causal: Bool = false, scale: Double? = nil) -> Tensor {
        let scale = scale ?? 1 / Double(Swift.max(query.shape.last ?? 1, 1)).squareRoot()
        if !GradMode.records([query, key, value]),
           query.rank == 4, key.rank == 4, value.rank == 4, query.shape[0] == key.shape[0], value.shape[0] == key.shape[0],
           query.shape[2] == key.shape[2], query.shape[3] == key.shape[3], value.shape[1] == key.shape[1],
           value.shape[2] == key.shape[2], query.dtype == key.dtype, value.dtype == key.dtype,
           query.dtype == .float32 || query.dtype == .float64 {
            // No gradient to record (inference): one pass per block of query rows, the
            // probabilities never stored.
            let g = AttentionGeometry(b: query.shape[0], tq: query.shape[1], tk: key.shape[1], h: query.shape[2],
                                      d: query.shape[3], dv: value.shape[3])
            let m = mask.map { $0.detached().cast(to: query.dtype) }
            if let m {
                precondition(m.shape == [g.b, g.tq, g.tk], "scaledDotProductAttention: mask \(m.shape) must be [\(g.b), \(g.tq), \(g.tk)]")
            }
            let (q, k, v) = (query.detached(), key.detached(), value.detached())
            return query.dtype == .float32
                ? Kernels.attentionFused(Float.self, q, k, v, mask: m, causal: causal, scale: Float(scale), g)
                : Kernels.attentionFused(Double.self, q, k, v, mask: m, causal: causal, scale: scale, g)
        }
        let p = attentionProbabilities(query: query, key: key, mask: mask, causal: causal, scale: scale)
        return attentionCombine(probabilities: p, value: value)
    }
}
