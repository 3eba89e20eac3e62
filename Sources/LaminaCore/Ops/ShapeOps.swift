// Shape ops. Those that keep the element order share storage; the rest move elements with
// the raw-copy kernels and record the inverse movement as their VJP.

extension Tensor {
    /// The same elements in a new shape; one dimension may be -1 (inferred).
    public func reshaped(to newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshaped(to:): cannot reshape \(shape) to \(newShape)")
            target[i] = count / known
        }
        precondition(target.allSatisfy { $0 >= 0 } && Shape.count(target) == count,
                     "reshaped(to:): cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        let inputShape = shape
        return Tensor(storage: storage, shape: target)
            .recorded("reshape", inputs: [self]) { g, _ in [g.reshaped(to: inputShape)] }
    }

    /// A rank-1 view of all elements.
    public func flattened() -> Tensor { reshaped(to: [count]) }

    /// Inserts a dimension of size 1 at `axis` (negative counts from the end of the result).
    public func expandingDims(axis: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank + 1, op: "expandingDims")
        var s = shape
        s.insert(1, at: a)
        return reshaped(to: s)
    }

    /// Removes the size-1 dimension at `axis`, or every size-1 dimension when nil.
    public func squeezed(axis: Int? = nil) -> Tensor {
        guard let axis else { return reshaped(to: shape.filter { $0 != 1 }) }
        let a = Shape.normalize(axis: axis, rank: rank, op: "squeezed")
        precondition(shape[a] == 1, "squeezed: dimension \(axis) of \(shape) is \(shape[a]), not 1")
        var s = shape
        s.remove(at: a)
        return reshaped(to: s)
    }

    /// Dimensions reordered: result dim i is this tensor's dim `perm[i]`.
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.sorted() == Array(0..<rank), "permuted: \(perm) is not a permutation of the \(rank) axes of \(shape)")
        if perm == Array(0..<rank) { return self }
        var inverse = perm
        for (i, p) in perm.enumerated() { inverse[p] = i }
        let back = inverse
        return Kernels.permute(self, perm).recorded("permute", inputs: [self]) { g, _ in [g.permuted(back)] }
    }

    /// The dimensions in reverse order (the matrix transpose for rank 2), as NumPy's `.T`.
    public func transposed() -> Tensor { permuted(Array((0..<rank).reversed())) }

    /// The elements `range` along `axis` (timesteps of a sequence, gate blocks of an LSTM).
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "sliced")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "sliced: range \(range) is out of bounds for axis \(axis) of \(shape)")
        var offsets = [Int](repeating: 0, count: rank)
        offsets[a] = range.lowerBound
        var outShape = shape
        outShape[a] = range.count
        return cropped(to: outShape, at: offsets)
    }

    /// The block of `outShape` starting at `offsets`; its VJP pads with zeros.
    func cropped(to outShape: [Int], at offsets: [Int]) -> Tensor {
        if outShape == shape { return self }
        let inputShape = shape
        let out = Kernels.move(self, to: outShape) { src, dst, size in
            Kernels.copyBlock(small: dst, smallShape: outShape, large: UnsafeMutableRawPointer(mutating: src),
                              largeShape: inputShape, offsets: offsets, size: size, intoLarge: false)
        }
        return out.recorded("slice", inputs: [self]) { g, _ in [g.placed(in: inputShape, at: offsets, value: 0)] }
    }

    /// This tensor inside a larger one of `outShape` filled with `value`; its VJP crops.
    func placed(in outShape: [Int], at offsets: [Int], value: Double) -> Tensor {
        if outShape == shape { return self }
        let smallShape = shape
        var out = Tensor.full(outShape, value: value, dtype: dtype)
        out.withRawMutable { large in
            Kernels.copyBlock(small: UnsafeMutableRawPointer(mutating: storage.pointer), smallShape: smallShape,
                              large: large, largeShape: outShape, offsets: offsets, size: dtype.byteSize, intoLarge: true)
        }
        return out.recorded("pad", inputs: [self]) { g, _ in [g.cropped(to: smallShape, at: offsets)] }
    }

    mutating func withRawMutable(_ body: (UnsafeMutableRawPointer) -> Void) {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        body(storage.pointer)
    }

    /// Pads each dimension with `padding[d].before` and `.after` elements of `value`.
    public func padded(with padding: [(before: Int, after: Int)], value: Double = 0) -> Tensor {
        precondition(padding.count == rank && padding.allSatisfy { $0.before >= 0 && $0.after >= 0 },
                     "padded: need \(rank) non-negative (before, after) pairs for shape \(shape), got \(padding)")
        let outShape = zip(shape, padding).map { $0 + $1.before + $1.after }
        return placed(in: outShape, at: padding.map(\.before), value: value)
    }

    /// The entries in reverse order along `axis` (a sequence read from its end). Differentiable.
    public func reversed(axis: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "reversed")
        guard shape[a] > 1 else { return self }
        // A copy of contiguous runs: the [outer, n, inner] view with its middle axis reversed.
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        return Kernels.flipBlocks(self, outer: outer, rows: shape[a], cols: 1, inner: inner, reverseRows: true, reverseCols: false) { _ in true }
            .recorded("reversed", inputs: [self]) { g, _ in [g.reversed(axis: a)] }
    }

    /// Flips image `k` of an NHWC batch (`[batch, height, width, channels]`) left-right
    /// (`horizontal`) and/or up-down (`vertical`) where `flips[k]`, copying the others: what
    /// RandomFlip applies, as one copy. Differentiable (the op is its own adjoint).
    package func flippingImages(_ flips: [Bool], horizontal: Bool, vertical: Bool) -> Tensor {
        precondition(rank == 4 && flips.count == shape[0], "flippingImages: need [batch, height, width, channels] and one flag per image, got \(shape) and \(flips.count)")
        return Kernels.flipBlocks(self, outer: shape[0], rows: shape[1], cols: shape[2], inner: shape[3],
                                  reverseRows: vertical, reverseCols: horizontal) { flips[$0] }
            .recorded("flip_images", inputs: [self]) { g, _ in [g.flippingImages(flips, horizontal: horizontal, vertical: vertical)] }
    }

    /// Spreads the entries along `axis` `rate` apart with zeros between them: a kernel of size k
    /// becomes one of size (k − 1)·rate + 1 — a dilated (atrous) convolution is the plain
    /// convolution with the dilated kernel. Differentiable (its adjoint picks every rate-th entry).
    public func dilated(axis: Int, rate: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "dilated")
        precondition(rate >= 1, "dilated: rate \(rate) must be positive")
        guard rate > 1, shape[a] > 1 else { return self }
        var pads = [(before: Int, after: Int)](repeating: (0, 0), count: rank + 1)
        pads[a + 1] = (0, rate - 1)
        var spread = shape
        spread[a] *= rate
        return expandingDims(axis: a + 1).padded(with: pads).reshaped(to: spread).sliced(axis: a, 0..<(shape[a] - 1) * rate + 1)
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenated(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concatenated: no tensors")
        let first = tensors[0]
        let a = Shape.normalize(axis: axis, rank: first.rank, op: "concatenated")
        for t in tensors {
            var s1 = t.shape, s0 = first.shape
            precondition(t.rank == first.rank && t.dtype == first.dtype,
                         "concatenated: \(first.shape) (\(first.dtype)) and \(t.shape) (\(t.dtype)) differ in rank or dtype")
            s1[a] = 0; s0[a] = 0
            precondition(s1 == s0, "concatenated: shapes \(first.shape) and \(t.shape) differ outside axis \(axis)")
        }
        var outShape = first.shape
        outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
        var out = Tensor.zeros(outShape, dtype: first.dtype)
        var start = 0
        var starts: [Int] = []
        out.withRawMutable { large in
            for t in tensors {
                var offsets = [Int](repeating: 0, count: first.rank)
                offsets[a] = start
                starts.append(start)
                Kernels.copyBlock(small: UnsafeMutableRawPointer(mutating: t.storage.pointer), smallShape: t.shape,
                                  large: large, largeShape: outShape, offsets: offsets, size: first.dtype.byteSize, intoLarge: true)
                start += t.shape[a]
            }
        }
        let offsets = starts
        return out.recorded("concatenate", inputs: tensors) { g, needed in
            tensors.indices.map { i in
                needed[i] ? g.sliced(axis: a, offsets[i]..<(offsets[i] + tensors[i].shape[a])) : nil
            }
        }
    }

    /// Stacks same-shaped tensors along a new `axis`.
    public static func stacked(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stacked: no tensors")
        return concatenated(tensors.map { $0.expandingDims(axis: axis) }, axis: axis)
    }

    /// The rows (entries along axis 0) at `indices`, in that order: a mini-batch.
    public func gather(rows indices: [Int]) -> Tensor {
        precondition(rank >= 1, "gather(rows:): needs rank >= 1, got a scalar")
        let n = shape[0], row = count / Swift.max(n, 1)
        for i in indices where i < 0 || i >= n {
            preconditionFailure("gather(rows:): index \(i) is out of range for \(n) rows of \(shape)")
        }
        let outShape = [indices.count] + shape.dropFirst()
        let out = Kernels.move(self, to: outShape) { src, dst, size in
            for (r, i) in indices.enumerated() { Kernels.copyElements(src, i * row, dst, r * row, row, size) }
        }
        let inputShape = shape
        return out.recorded("gather", inputs: [self]) { g, _ in [g.scatterAddRows(indices, into: inputShape)] }
    }

    /// Zeros of `shape` with this tensor's rows added at `indices` (the VJP of gather).
    func scatterAddRows(_ indices: [Int], into shape: [Int]) -> Tensor {
        let row = count / Swift.max(indices.count, 1)
        func impl<T: FloatScalar>(_: T.Type) -> Tensor {
            var out = Tensor.zeros(shape, dtype: dtype)
            withUnsafeBuffer(as: T.self) { g in
                out.withUnsafeMutableBuffer(as: T.self) { o in
                    for (r, i) in indices.enumerated() {
                        for j in 0..<row { o[i * row + j] += g[r * row + j] }
                    }
                }
            }
            return out
        }
        return isFloat32("gather") ? impl(Float.self) : impl(Double.self)
    }
}
