import Foundation

/// Importing weights trained in PyTorch: a `state_dict`, usually shared as a safetensors
/// file (`safetensors.torch.save_file(model.state_dict(), path)`).
///
/// PyTorch lays weights out differently, and each layer converts its modules' parameters:
/// - `nn.Linear` → `Dense`: `weight` (out, in) is transposed to the kernel (in, out). When the
///   Dense follows a `Flatten` of an image, its input rows are reordered from PyTorch's
///   channels-first flattening (c, h, w) to Lamina's channels-last (h, w, c).
/// - `nn.Conv2d` → `Conv2D`: `weight` (out, in, kh, kw) becomes (kh, kw, in, out).
/// - `nn.BatchNorm1d/2d` → `BatchNormalization`: weight, bias, running mean and variance
///   (set the Lamina layer's `epsilon: 1e-5` and `momentum: 0.9` to match PyTorch's defaults).
/// - `nn.LSTM` → `LSTM`: the gate blocks i, f, g, o are Keras's i, f, c, o, so the matrices are
///   transposed and the two biases summed; `nn.RNN` (tanh) → `SimpleRNN` likewise. One layer,
///   one direction (`_l0`).
public enum PyTorch {
    /// The state_dict grouped by module (`"features.0.weight"` → module `"features.0"`), modules
    /// in natural order (`2` before `10`).
    public static func modules(_ stateDict: [(name: String, tensor: Tensor)]) -> [(module: String, parameters: [String: Tensor])] {
        var groups: [String: [String: Tensor]] = [:]
        for (name, tensor) in stateDict {
            let (module, parameter) = name.lastIndex(of: ".").map { (String(name[..<$0]), String(name[name.index(after: $0)...])) }
                ?? ("", name)
            groups[module, default: [:]][parameter] = tensor
        }
        return groups.keys.sorted(by: naturalOrder).map { ($0, groups[$0]!) }
    }

    /// `a < b` comparing digit runs as numbers: "2" < "10", "layer2.0" < "layer10.0".
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        func chunks(_ s: String) -> [(String, Int?)] {
            var out: [(String, Int?)] = [], current = "", digits = false
            for c in s {
                if !current.isEmpty && c.isNumber != digits { out.append((current, digits ? Int(current.prefix(18)) : nil)); current = "" }
                digits = c.isNumber
                current.append(c)
            }
            if !current.isEmpty { out.append((current, digits ? Int(current.prefix(18)) : nil)) }
            return out
        }
        for (x, y) in zip(chunks(a), chunks(b)) where x.0 != y.0 {
            if let i = x.1, let j = y.1, i != j { return i < j }
            return x.0 < y.0
        }
        return a.count < b.count
    }

    /// The weights of `layer` (in `getWeights()` order) from one module's parameters.
    /// `flattenedFrom` is the image shape [h, w, c] a preceding Flatten consumed.
    static func weights(for layer: Layer, module: String, _ p: [String: Tensor], flattenedFrom: [Int]?) throws -> [Tensor] {
        func fail(_ why: String) -> LaminaError { LaminaError(.value, "PyTorch module '\(module)' → \(layer.name) (\(layer.className)): \(why)") }
        var unused = Set(p.keys)
        func take(_ name: String, rank: Int) throws -> Tensor {
            guard let t = p[name] else { throw fail("missing '\(name)' (has \(p.keys.sorted().joined(separator: ", ")))") }
            guard t.rank == rank, t.dtype.isFloatingPoint else { throw fail("'\(name)' has shape \(t.shape) \(t.dtype), expected rank \(rank) floats") }
            unused.remove(name)
            return t.cast(to: layer.dtype)
        }
        var out: [Tensor]
        switch layer {
        case let dense as Dense:
            var kernel = try take("weight", rank: 2).transposed()   // (in, out)
            if let image = flattenedFrom, image.count == 3, image.reduce(1, *) == kernel.shape[0] {
                // Row r of Lamina's (h, w, c) flattening is row (c·h·w + i·w + j) of PyTorch's (c, h, w).
                let (h, w, c) = (image[0], image[1], image[2])
                var rows: [Int] = []
                for i in 0..<h { for j in 0..<w { for k in 0..<c { rows.append(k * h * w + i * w + j) } } }
                kernel = kernel.gather(rows: rows)
            }
            out = [kernel]
            if dense.useBias { out.append(try take("bias", rank: 1)) }
        case let conv as Conv2D:
            out = [try take("weight", rank: 4).permuted([2, 3, 1, 0])]
            if conv.useBias { out.append(try take("bias", rank: 1)) }
        case let bn as BatchNormalization:
            out = []
            if bn.scale { out.append(try take("weight", rank: 1)) }
            if bn.center { out.append(try take("bias", rank: 1)) }
            out += [try take("running_mean", rank: 1), try take("running_var", rank: 1)]
            unused.remove("num_batches_tracked")
        case let rnn as Recurrent:
            guard rnn is LSTM || (rnn as? SimpleRNN)?.activation == .tanh else { throw fail("only tanh nn.RNN maps to SimpleRNN") }
            out = [try take("weight_ih_l0", rank: 2).transposed(), try take("weight_hh_l0", rank: 2).transposed()]
            if rnn.useBias { out.append(try take("bias_ih_l0", rank: 1) + take("bias_hh_l0", rank: 1)) }
        default:
            throw fail("Lamina converts Linear, Conv2d, BatchNorm, LSTM and RNN modules")
        }
        guard unused.isEmpty else {
            throw fail("parameters Lamina cannot place: \(unused.sorted().joined(separator: ", ")) (stacked or bidirectional RNNs, projections?)")
        }
        let expected = layer.weights.map(\.shape)
        guard out.map(\.shape) == expected else {
            throw fail("converted shapes \(out.map(\.shape)) do not match the layer's \(expected)")
        }
        return out
    }
}

extension Sequential {
    /// Loads a PyTorch state_dict saved as safetensors (see `PyTorch`). Modules are matched to
    /// this model's layers that have weights, in order (modules in natural order of their
    /// names); `mapping` (layer name → module name) sets the pairs explicitly instead, for
    /// modules whose names do not sort in the order of the model. The model must be built.
    /// Nothing changes unless every layer converts.
    public func loadPyTorchWeights(from url: URL, mapping: [String: String]? = nil) throws {
        try loadPyTorchStateDict(try Safetensors.load(url).tensors, mapping: mapping)
    }

    public func loadPyTorchStateDict(_ stateDict: [(name: String, tensor: Tensor)], mapping: [String: String]? = nil) throws {
        // Leaf layers in order, with the image shape a Flatten before them consumed.
        var leaves: [(layer: Layer, flattenedFrom: [Int]?)] = []
        var flattened: [Int]?
        func walk(_ layer: Layer) {
            if let s = layer as? Sequential { s.layers.forEach(walk); return }
            if layer is Flatten { flattened = layer.inputShape; return }
            if !layer.weights.isEmpty { leaves.append((layer, flattened)) }
            if !(layer is Dropout || layer is Activation || layer is LeakyReLU) { flattened = nil }
        }
        layers.forEach(walk)
        guard isBuilt || leaves.allSatisfy({ $0.layer.isBuilt }) else {
            throw LaminaError.value("\(name): build the model (inputShape: or one call) before loading PyTorch weights")
        }
        let modules = PyTorch.modules(stateDict).filter { !$0.parameters.keys.allSatisfy { $0 == "num_batches_tracked" } }
        var pairs: [(Layer, [Int]?, String, [String: Tensor])] = []
        if let mapping {
            let byName = Dictionary(modules.map { ($0.module, $0.parameters) }, uniquingKeysWith: { a, _ in a })
            for (layer, flat) in leaves {
                guard let module = mapping[layer.name] else { throw LaminaError.value("\(name): mapping has no module for layer \(layer.name)") }
                guard let parameters = byName[module] else {
                    throw LaminaError.value("\(name): module '\(module)' is not in the state_dict (has \(modules.map(\.module).joined(separator: ", ")))")
                }
                pairs.append((layer, flat, module, parameters))
            }
        } else {
            guard modules.count == leaves.count else {
                throw LaminaError.value("\(name): the state_dict has \(modules.count) modules with parameters (\(modules.map(\.module).joined(separator: ", "))), "
                    + "the model \(leaves.count) layers with weights (\(leaves.map(\.layer.name).joined(separator: ", ")))")
            }
            pairs = zip(leaves, modules).map { ($0.layer, $0.flattenedFrom, $1.module, $1.parameters) }
        }
        let converted = try pairs.map { try PyTorch.weights(for: $0.0, module: $0.2, $0.3, flattenedFrom: $0.1) }
        for ((layer, _, _, _), values) in zip(pairs, converted) { try layer.setWeights(values) }
    }
}
