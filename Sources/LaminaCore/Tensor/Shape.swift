/// Shape arithmetic shared by the ops: element counts, strides, broadcasting, axes.
public enum Shape {
    /// Number of elements of a tensor of this shape (1 for a scalar `[]`).
    @inlinable public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }

    /// The NumPy broadcast of two shapes, or nil when they are incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Resolves a possibly negative axis against a rank; stops with a message naming `op`.
    public static func normalize(axis: Int, rank: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(op): axis \(axis) is out of range for rank \(rank)")
        return a
    }

    /// Strides of `shape` seen from the broadcast shape `out`: 0 where the dimension is
    /// repeated (size 1 or missing).
    static func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
        let own = strides(shape)
        let offset = out.count - shape.count
        return (0..<out.count).map { i in
            i < offset || shape[i - offset] == 1 ? 0 : own[i - offset]
        }
    }
}
