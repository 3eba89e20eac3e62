import Foundation

extension Tensor: CustomStringConvertible {
    /// NumPy-like text: nested brackets, and `...` in place of the middle of dimensions
    /// longer than six when the tensor has more than 1,000 elements.
    public var description: String {
        let values = scalarsAsDouble()
        let elide = count > 1000
        let format: (Double) -> String = dtype == .int32
            ? { String(Int64($0)) }
            : { v in
                if v.isNaN || v.isInfinite { return "\(v)" }
                let a = Swift.abs(v)
                if a != 0 && (a < 1e-4 || a >= 1e6) { return String(format: "%.4e", v) }
                return String(format: "%.4f", v)
            }
        func render(_ dim: Int, _ offset: Int, _ indent: String) -> String {
            if dim == shape.count { return format(values[offset]) }
            let n = shape[dim]
            let stride = shape[(dim + 1)...].reduce(1, *)
            let indices: [Int?] = elide && n > 6 ? [0, 1, 2, nil, n - 3, n - 2, n - 1] : (0..<n).map { $0 }
            let parts = indices.map { i in i.map { render(dim + 1, offset + $0 * stride, indent + " ") } ?? "..." }
            let sep = dim == shape.count - 1 ? ", " : ",\n" + indent + " "
            return "[" + parts.joined(separator: sep) + "]"
        }
        let header = "Tensor(shape: \(shape), dtype: \(dtype)\(requiresGrad ? ", requiresGrad" : ""))"
        return header + "\n" + (count == 0 ? "[]" : render(0, 0, ""))
    }
}
