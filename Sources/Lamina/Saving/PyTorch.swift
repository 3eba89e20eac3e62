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

    /// The weights of `layer` (in `getWeights()` order) from one module's parameters: the
    /// layer converts them (`Layer.weightsFromPyTorch`); every parameter must find a place.
    /// `flattenedFrom` is the image shape [h, w, c] a preceding Flatten consumed.
    static func weights(for layer: Layer, module: String, _ p: [String: Tensor], flattenedFrom: [Int]?) throws -> [Tensor] {
        var parameters = PyTorchModule(name: module, layer: layer, parameters: p)
        let out = try layer.weightsFromPyTorch(&parameters, flattenedFrom: flattenedFrom)
        guard parameters.unused.isEmpty else {
            throw parameters.error("parameters Lamina cannot place: \(parameters.unused.sorted().joined(separator: ", ")) (stacked or bidirectional RNNs, projections?)")
        }
        let expected = layer.weights.map(\.shape)
        guard out.map(\.shape) == expected else {
            throw parameters.error("converted shapes \(out.map(\.shape)) do not match the layer's \(expected)")
        }
        return out
    }
}

/// One PyTorch module's parameters (`weight`, `bias`, ...), handed to the layer it maps to,
/// which takes what it converts into its own weights.
public struct PyTorchModule {
    /// The module's name in the state dict (`fc1` of `fc1.weight`).
    public let name: String
    let layer: Layer
    let parameters: [String: Tensor]
    /// Parameters nothing has taken yet.
    public private(set) var unused: Set<String>

    init(name: String, layer: Layer, parameters: [String: Tensor]) {
        (self.name, self.layer, self.parameters, self.unused) = (name, layer, parameters, Set(parameters.keys))
    }

    /// The parameter `name` as a float tensor of the layer's dtype; it must exist with `rank` dimensions.
    public mutating func take(_ parameter: String, rank: Int) throws -> Tensor {
        guard let t = parameters[parameter] else {
            throw error("missing '\(parameter)' (has \(parameters.keys.sorted().joined(separator: ", ")))")
        }
        guard t.rank == rank, t.dtype.isFloatingPoint else {
            throw error("'\(parameter)' has shape \(t.shape) \(t.dtype), expected rank \(rank) floats")
        }
        unused.remove(parameter)
        return t.cast(to: layer.dtype)
    }

    /// Marks a parameter that has no counterpart in Lamina as placed (`num_batches_tracked`).
    public mutating func ignore(_ parameter: String) { unused.remove(parameter) }

    /// An error naming the module and the layer.
    public func error(_ why: String) -> LaminaError {
        LaminaError(.value, "PyTorch module '\(name)' → \(layer.name) (\(layer.className)): \(why)")
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

    /// `loadPyTorchWeights(from:mapping:)` with the state dict's tensors already in memory (name, tensor), as `PyTorch` reads them.
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
