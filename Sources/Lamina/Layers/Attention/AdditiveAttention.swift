import Foundation

/// Additive (Bahdanau-style) attention: scores `Σ scale ⊙ tanh(q + k)` over the features, with
/// a learned `scale` `[dim]` (glorot uniform) when `useScale`. Keras:
/// `keras.layers.AdditiveAttention(use_scale=True, dropout=0.0)`. Inputs, masks and calls as `Attention`.
public final class AdditiveAttention: Attention {
    /// Keras: `keras.layers.AdditiveAttention(use_scale=True, dropout=0.0, seed=None)`; `dropout` applies to the attention weights in training.
    public init(useScale: Bool = true, dropout: Double = 0, seed: UInt64? = nil, name: String? = nil) {
        super.init(useScale: useScale, scoreMode: "dot", dropout: dropout, seed: seed, name: name)
    }
    public override func config() throws -> [String: Any] {
        ["use_scale": useScale, "dropout": dropout, "seed": seed.map { Int($0) as Any } ?? NSNull()]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        AdditiveAttention(useScale: try r.bool("use_scale", default: true), dropout: try r.double("dropout", default: 0, in: 0...0.999),
                          seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init), name: try r.layerName())
    }
    private var additiveScale: Variable?
    public override func makeWeights(dim: Int) {
        if useScale { additiveScale = addWeight("scale", shape: [dim], initializer: .glorotUniform) }
    }
    public override func scores(_ query: Tensor, _ key: Tensor) -> Tensor {
        var t = (query.expandingDims(axis: 2) + key.expandingDims(axis: 1)).tanh()
        if let additiveScale { t = t * additiveScale.value }
        return t.sum(axes: [3])
    }
}
