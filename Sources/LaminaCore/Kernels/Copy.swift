// Data movement kernels. They only move elements, so they work on the raw bit patterns
// (4 or 8 bytes) and serve every dtype.

extension Kernels {
    /// Calls `body` with an unsigned integer type of the tensor's element size.
    static func withBits<R>(_ dtype: DType, _ body: (any FixedWidthInteger.Type) -> R) -> R {
        dtype.byteSize == 8 ? body(UInt64.self) : body(UInt32.self)
    }

    /// A new tensor of `shape` whose raw elements `body` writes from the source's. The memory
    /// starts uninitialized: `body` must write every element (a crop, a gather of rows and a
    /// permutation do; zeroing first cost a whole extra pass, 2% of the MNIST MLP's epoch in
    /// the batches' row gathers).
    static func move(_ x: Tensor, to shape: [Int],
                     _ body: (UnsafeRawPointer, UnsafeMutableRawPointer, Int) -> Void) -> Tensor {
        let s = Storage(count: Shape.count(shape), dtype: x.dtype)
        body(UnsafeRawPointer(x.storage.pointer), s.pointer, x.dtype.byteSize)
        return Tensor(storage: s, shape: shape)
    }

    /// Copies elements `[srcOffset ..< srcOffset + count]` to `dst[dstOffset...]`.
    @inline(__always)
    static func copyElements(_ src: UnsafeRawPointer, _ srcOffset: Int, _ dst: UnsafeMutableRawPointer,
                             _ dstOffset: Int, _ count: Int, _ size: Int) {
        (dst + dstOffset * size).copyMemory(from: src + srcOffset * size, byteCount: count * size)
    }

    /// out = x permuted by `perm` (out dim i is x dim perm[i]).
    static func permute(_ x: Tensor, _ perm: [Int]) -> Tensor {
        let outShape = perm.map { x.shape[$0] }
        let inStrides = Shape.strides(x.shape)
        let strides = perm.map { inStrides[$0] }
        return move(x, to: outShape) { src, dst, size in
            if size == 8 {
                permuteImpl(src.assumingMemoryBound(to: UInt64.self), dst.assumingMemoryBound(to: UInt64.self), outShape, strides)
            } else {
                permuteImpl(src.assumingMemoryBound(to: UInt32.self), dst.assumingMemoryBound(to: UInt32.self), outShape, strides)
            }
        }
    }

    private static func permuteImpl<E>(_ src: UnsafePointer<E>, _ dst: UnsafeMutablePointer<E>,
                                       _ shape: [Int], _ strides: [Int]) {
        let rank = shape.count, total = Shape.count(shape)
        if total == 0 { return }
        if rank == 0 { dst[0] = src[0]; return }
        let len = shape[rank - 1], step = strides[rank - 1]
        forEachRow(shape, strides, strides) { row, base, _ in
            let o = row * len
            for j in 0..<len { dst[o + j] = src[base + j * step] }
        }
    }

    /// Copies the block of `inner` shape between `small` (shape `smallShape`) and `large`,
    /// placed at `offsets` inside `large`: into `large` when `intoLarge`, out of it otherwise.
    /// Pads and slices are both this.
    static func copyBlock(small: UnsafeMutableRawPointer, smallShape: [Int],
                          large: UnsafeMutableRawPointer, largeShape: [Int],
                          offsets: [Int], size: Int, intoLarge: Bool) {
        let rank = smallShape.count, total = Shape.count(smallShape)
        if total == 0 { return }
        if rank == 0 {
            copyElements(intoLarge ? UnsafeRawPointer(small) : UnsafeRawPointer(large), 0,
                         intoLarge ? large : small, 0, 1, size)
            return
        }
        let ls = Shape.strides(largeShape)
        let len = smallShape[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var lo = zip(offsets, ls).reduce(0) { $0 + $1.0 * $1.1 }
        var so = 0
        while so < total {
            if intoLarge { copyElements(small, so, large, lo, len, size) } else { copyElements(large, lo, small, so, len, size) }
            so += len
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                lo += ls[d]
                if index[d] < smallShape[d] { break }
                lo -= ls[d] * smallShape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

extension Kernels {
    /// out = x with the blocks of a `[outer, rows, cols, inner]` view reversed along rows
    /// (`reverseRows`) and/or cols (`reverseCols`), for the images `k` of `outer` where
    /// `select(k)` is true; the others are copied unchanged. A plain copy of contiguous runs
    /// (whole rows, or `inner`-element pixels when columns are reversed), on Lamina's threads.
    static func flipBlocks(_ x: Tensor, outer: Int, rows: Int, cols: Int, inner: Int,
                           reverseRows: Bool, reverseCols: Bool, select: (Int) -> Bool) -> Tensor {
        precondition(outer * rows * cols * inner == x.count, "flipBlocks: view does not cover the tensor")
        let size = x.dtype.byteSize
        let s = Storage(count: x.count, dtype: x.dtype)
        let src = UnsafeRawPointer(x.storage.pointer), dst = s.pointer
        let per = rows * cols * inner, rowLen = cols * inner
        let flags = (0..<outer).map(select)
        parallelFor(outer, grain: max(1, parallelThreshold / max(per, 1))) { range in
            for k in range {
                let base = k * per
                guard flags[k] else { copyElements(src, base, dst, base, per, size); continue }
                for r in 0..<rows {
                    let from = base + (reverseRows ? rows - 1 - r : r) * rowLen, to = base + r * rowLen
                    if !reverseCols { copyElements(src, from, dst, to, rowLen, size); continue }
                    if inner == 1 {
                        if size == 4 {
                            let a = src.assumingMemoryBound(to: UInt32.self) + from, b = dst.assumingMemoryBound(to: UInt32.self) + to
                            for c in 0..<cols { b[c] = a[cols - 1 - c] }
                        } else {
                            let a = src.assumingMemoryBound(to: UInt64.self) + from, b = dst.assumingMemoryBound(to: UInt64.self) + to
                            for c in 0..<cols { b[c] = a[cols - 1 - c] }
                        }
                    } else if inner == 3 && size == 4 {
                        let a = src.assumingMemoryBound(to: UInt32.self) + from, b = dst.assumingMemoryBound(to: UInt32.self) + to
                        for c in 0..<cols {
                            let (i, o) = ((cols - 1 - c) * 3, c * 3)
                            b[o] = a[i]; b[o + 1] = a[i + 1]; b[o + 2] = a[i + 2]
                        }
                    } else {
                        for c in 0..<cols { copyElements(src, from + (cols - 1 - c) * inner, dst, to + c * inner, inner, size) }
                    }
                }
            }
        }
        return Tensor(storage: s, shape: x.shape)
    }
}
