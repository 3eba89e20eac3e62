/// Reshapes each sample to `targetShape` (one entry may be -1). Keras: `Reshape`.
public final class Reshape: Layer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let target = try r.ints("target_shape", minimum: -1)
        guard target.filter({ $0 == -1 }).count <= 1, !target.contains(0) else {
            throw r.error("target_shape \(target) may hold one -1 and no 0")
        }
        return try Reshape(target, name: r.layerName())
    }
    /// The output shape without the batch axis (one entry may be -1).
    public let targetShape: [Int]

    /// Keras: `Reshape(target_shape)`.
    public init(_ targetShape: [Int], inputShape: [Int]? = nil, name: String? = nil) {
        self.targetShape = targetShape
        super.init(name: name, inputShape: inputShape)
    }

    public override func config() throws -> [String: Any] { ["target_shape": targetShape] }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        let n = s.reduce(1, *)
        var out = targetShape
        if let i = out.firstIndex(of: -1) {
            let known = out.filter { $0 != -1 }.reduce(1, *)
            guard known > 0, n % known == 0 else { throw LaminaError.shape("\(name): cannot reshape \(describe(s)) to \(describe(targetShape))") }
            out[i] = n / known
        }
        guard out.reduce(1, *) == n else {
            throw LaminaError.shape("\(name): cannot reshape \(describe(s)) (\(n) values) to \(describe(targetShape))")
        }
        return out
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.reshaped(to: [x.shape[0]] + (try computeOutputShape(Array(x.shape.dropFirst()))))
    }
}
