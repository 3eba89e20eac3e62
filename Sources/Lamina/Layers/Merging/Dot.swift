import Foundation

/// The dot product of two batches along an axis of each, sample by sample (Keras's
/// `batch_dot`). Keras: `keras.layers.Dot(axes, normalize=False)`.
///
/// `axes` count the batch axis as 0, as in Keras: `Dot(axes: 1)` on `[B, n]` and `[B, n]`
/// gives `[B, 1]`; `Dot(axes: (2, 2))` on `[B, m, n]` and `[B, k, n]` gives `[B, m, k]`.
/// The output keeps the first input's other axes, then the second's. With `normalize`,
/// each input is L2-normalized along its dot axis first (the result is a cosine similarity).
public final class Dot: MergeLayer {
    /// The axis of each input to sum over (batch axis = 0; negative counts from the end).
    public let axes: (Int, Int)
    /// Whether `axes` was given as one integer (saved as Keras's int form).
    private let singleAxis: Bool
    /// Whether the inputs are L2-normalized along the dot axes first (Keras's `normalize`).
    public let normalize: Bool

    /// The same axis of both inputs: Keras's `Dot(axes=1)`.
    public init(axes: Int, normalize: Bool = false, name: String? = nil) {
        (self.axes, self.singleAxis, self.normalize) = ((axes, axes), true, normalize)
        super.init(name: name)
    }

    /// One axis per input: Keras's `Dot(axes=(1, 2))`.
    public init(axes: (Int, Int), normalize: Bool = false, name: String? = nil) {
        (self.axes, self.singleAxis, self.normalize) = (axes, false, normalize)
        super.init(name: name)
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let normalize = try r.bool("normalize", default: false), name = try r.layerName()
        if let list = r.value("axes") as? [Any] {
            guard list.count == 2, let a = ConfigReader.integer(list[0]), let b = ConfigReader.integer(list[1]) else {
                throw r.error("'axes' must be an integer or a list of two integers, got \(list)")
            }
            return Dot(axes: (a, b), normalize: normalize, name: name)
        }
        return Dot(axes: try r.int("axes"), normalize: normalize, name: name)
    }

    /// Keras's `get_config()`: `axes` (an integer or a pair, as given) and `normalize`.
    public override func config() throws -> [String: Any] {
        ["axes": singleAxis ? axes.0 as Any : [axes.0, axes.1], "normalize": normalize]
    }

    public override var minimumInputs: Int { 2 }

    /// The dot axes (batch axis = 0) for inputs of per-sample shapes `s1` and `s2`; throws
    /// naming both shapes where they do not fit.
    private func resolvedAxes(_ s1: [Int], _ s2: [Int]) throws -> (Int, Int) {
        let (r1, r2) = (s1.count + 1, s2.count + 1)
        let shapes = "\(describe(s1)) and \(describe(s2))"
        guard r1 >= 2 && r2 >= 2 else {
            throw LaminaError.shape("\(name) (Dot) needs inputs of rank 2 or more, got \(shapes)")
        }
        let a0 = axes.0 < 0 ? axes.0 + r1 : axes.0, a1 = axes.1 < 0 ? axes.1 + r2 : axes.1
        guard a0 >= 1 && a0 < r1 && a1 >= 1 && a1 < r2 else {
            throw LaminaError.shape("\(name) (Dot): axes \(axes) do not fit inputs \(shapes) (axis 0 is the batch axis)")
        }
        guard s1[a0 - 1] == s2[a1 - 1] else {
            throw LaminaError.shape("\(name) (Dot): incompatible input shapes \(shapes): axis \(a0) has \(s1[a0 - 1]), axis \(a1) has \(s2[a1 - 1])")
        }
        return (a0, a1)
    }

    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        guard shapes.count == 2 else { throw LaminaError.shape("\(name) (Dot) takes exactly 2 inputs, got \(shapes.count)") }
        let (s1, s2) = (shapes[0], shapes[1])
        let (a0, a1) = try resolvedAxes(s1, s2)
        var out1 = s1, out2 = s2
        out1.remove(at: a0 - 1)
        out2.remove(at: a1 - 1)
        let out = out1 + out2
        return out.isEmpty ? [1] : out
    }

    public override func merge(_ inputs: [Tensor]) throws -> Tensor {
        var (x, y) = (inputs[0], inputs[1])
        let (a0, a1) = try resolvedAxes(Array(x.shape.dropFirst()), Array(y.shape.dropFirst()))
        if normalize { (x, y) = (Dot.l2Normalized(x, axis: a0), Dot.l2Normalized(y, axis: a1)) }
        let batch = x.shape[0], n = x.shape[a0]
        // x: the dot axis last; y: the dot axis right after the batch axis.
        let xPerm = (0..<x.rank).filter { $0 != a0 } + [a0], yPerm = [0, a1] + (1..<y.rank).filter { $0 != a1 }
        let xRest = xPerm.dropFirst().dropLast().map { x.shape[$0] }, yRest = yPerm.dropFirst(2).map { y.shape[$0] }
        let m = xRest.reduce(1, *), k = yRest.reduce(1, *)
        let xs = (a0 == x.rank - 1 ? x : x.permuted(xPerm)).reshaped(to: [batch, m, n])
        let ys = (a1 == 1 ? y : y.permuted(yPerm)).reshaped(to: [batch, n, k])
        let out = xRest + yRest
        return xs.matmul(ys).reshaped(to: [batch] + (out.isEmpty ? [1] : out))
    }

    /// Keras's `ops.normalize(x, axis)` (order 2): x / max(‖x‖, ε), ε = 1e-7 — written as
    /// x · max(Σx², ε²)^(-1/2) so that a zero vector has a finite gradient (0, not NaN).
    static func l2Normalized(_ x: Tensor, axis: Int) -> Tensor {
        let squares = LaminaCore.maximum(x.square().sum(axes: [axis], keepDims: true), Tensor.scalar(1e-14, dtype: x.dtype))
        return x * squares.pow(-0.5)
    }
}
