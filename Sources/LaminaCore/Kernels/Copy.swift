// Data movement kernels. They only move elements, so they work on the raw bit patterns
// (4 or 8 bytes) and serve every dtype.

extension Kernels {
    /// Calls `body` with an unsigned integer type of the tensor's element size.
    static func withBits<R>(_ dtype: DType, _ body: (any FixedWidthInteger.Type) -> R) -> R {
        dtype.byteSize == 8 ? body(UInt64.self) : body(UInt32.self)
    }

    /// A new tensor of `shape` whose raw elements `body` writes from the source's.
    static func move(_ x: Tensor, to shape: [Int],
                     _ body: (UnsafeRawPointer, UnsafeMutableRawPointer, Int) -> Void) -> Tensor {
        let s = Storage(zeros: Shape.count(shape), dtype: x.dtype)
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
