import Foundation

/// A whole model in one safetensors file: the weights named by layer and weight
/// (`dense_1/kernel`), the optimizer's slots (`optimizer/dense_1/kernel/momentum`), and in
/// `__metadata__`:
/// - `config`: the architecture and compile settings as Keras's `config.json` spells them;
/// - `training_state`: completed epochs, optimizer iterations and the random generators'
///   states, so that `fit` continues exactly where it stopped.
/// Python's `safetensors` and NumPy read the tensors as they are.
enum ModelFile {
    static let format = "lamina-model"

    static func contents(of model: Model) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        var tensors = model.weights.map { (name: $0.name, tensor: $0.value) }
        let duplicates = Dictionary(grouping: tensors.map(\.name), by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        guard duplicates.isEmpty else {
            throw LaminaError(.io, "\(model.name): weight names \(duplicates.joined(separator: ", ")) appear twice; give the layers distinct names to save")
        }
        var config = try model.serialize()
        var state: [String: Any] = ["epoch": model.epoch, "random_state": hex(GlobalRandom.current)]
        if let optimizer = model.optimizer {
            config["compile_config"] = try model.compileConfig()
            state["iterations"] = optimizer.iterations
            for v in model.variablesToTrain {
                guard let slots = optimizer.slots(for: v) else { continue }
                for (slot, t) in zip(optimizer.slotNames, slots) { tensors.append(("optimizer/\(v.name)/\(slot)", t)) }
            }
        }
        var generators: [String: [String]] = [:]
        for case let d as any RandomLayer in model.descendants { if let g = d.generator { generators[d.name] = hex(g) } }
        state["layer_random_states"] = generators
        return (tensors, ["format": format, "format_version": "1", "config": try json(config), "training_state": try json(state)])
    }

    static func model(tensors: [(name: String, tensor: Tensor)], metadata: [String: String], file: String,
                      restoreRandomState: Bool) throws -> Model {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(file): \(why)") }
        guard metadata["format"] == format else {
            throw fail(metadata["format"] == "lamina-weights"
                       ? "holds weights only (saveWeights); build the model and call loadWeights(from:)"
                       : "not a Lamina model file (no \"format\": \"\(format)\" in its metadata)")
        }
        guard let configText = metadata["config"], let stateText = metadata["training_state"] else {
            throw fail("metadata lacks 'config' or 'training_state'")
        }
        let config = try object(configText, "config", fail)
        let model: Model
        do {
            let supplied = tensors.reduce(0) { $0 + $1.tensor.count }   // bounded by the file's size
            guard let m = try LayerRegistry.$weightElementLimit.withValue(supplied, operation: { try LayerRegistry.make(config) })
                    as? Model else { throw fail("the config is not a model") }
            model = m
        } catch let error as LaminaError where error.kind == .configuration {
            throw fail(error.message)
        }
        let (weights, slots) = (tensors.filter { !$0.name.hasPrefix("optimizer/") }, tensors.filter { $0.name.hasPrefix("optimizer/") })
        try model.assignWeights(Dictionary(weights.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }), file: file)
        if let compileConfig = config["compile_config"], !(compileConfig is NSNull) {
            do { try model.compile(fromConfig: compileConfig) } catch let error as LaminaError { throw fail(error.message) }
        }

        let state = try object(stateText, "training_state", fail)
        let r = ConfigReader(className: "training_state", values: state)
        do {
            model.epoch = try r.int("epoch", minimum: 0)
            let iterations = try r.int("iterations", default: 0, minimum: 0)
            let random = try generator(r.value("random_state"), "random_state", fail)
            var layerGenerators: [String: RandomGenerator] = [:]
            if let list = r.value("layer_random_states") {
                guard let map = list as? [String: Any] else { throw fail("layer_random_states must be an object") }
                for (name, value) in map { layerGenerators[name] = try generator(value, "layer_random_states.\(name)", fail) }
            }
            try r.finish()
            for case let d as any RandomLayer in model.descendants { if let g = layerGenerators[d.name] { d.generator = g } }
            if restoreRandomState { GlobalRandom.current = random }
            try restoreOptimizer(model, slots: slots, iterations: iterations, fail)
        } catch let error as LaminaError where error.kind == .configuration {
            throw fail(error.message)
        }
        return model
    }

    static func restoreOptimizer(_ model: Model, slots: [(name: String, tensor: Tensor)], iterations: Int,
                                         _ fail: (String) -> LaminaError) throws {
        guard let optimizer = model.optimizer else {
            guard slots.isEmpty else { throw fail("holds optimizer slots but no compile settings") }
            return
        }
        var remaining = Dictionary(slots.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for v in model.variablesToTrain {
            let names = optimizer.slotNames.map { "optimizer/\(v.name)/\($0)" }
            let found = names.compactMap { remaining.removeValue(forKey: $0) }
            if found.isEmpty { continue }
            guard found.count == names.count else { throw fail("optimizer slots of \(v.name) are incomplete (needs \(names))") }
            for t in found where t.shape != v.shape || t.dtype != v.value.dtype {
                throw fail("optimizer slot for \(v.name) has shape \(t.shape) \(t.dtype), the weight is \(v.shape) \(v.value.dtype)")
            }
            optimizer.setSlots(found, for: v)
        }
        guard remaining.isEmpty else { throw fail("unexpected optimizer slots: \(remaining.keys.sorted().joined(separator: ", "))") }
        optimizer.iterations = iterations
    }

    private static func hex(_ g: RandomGenerator) -> [String] {
        [g.state.0, g.state.1, g.state.2, g.state.3].map { String($0, radix: 16) }
    }

    static func generator(_ value: Any?, _ key: String, _ fail: (String) -> LaminaError) throws -> RandomGenerator {
        guard let list = value as? [String], list.count == 4 else { throw fail("\(key) must be four hex strings") }
        let words = list.compactMap { UInt64($0, radix: 16) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else { throw fail("\(key) must be four hex strings, not all zero") }
        var g = RandomGenerator(seed: 0)
        g.state = (words[0], words[1], words[2], words[3])
        return g
    }

    static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    static func object(_ text: String, _ key: String, _ fail: (String) -> LaminaError) throws -> [String: Any] {
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("metadata '\(key)' is not a JSON object")
        }
        return object
    }
}

extension Model {
    /// Saves the architecture, weights, compile settings, optimizer state and training state
    /// in one safetensors file, atomically. Keras: `model.save`.
    public func save(_ path: String) throws { try save(to: URL(fileURLWithPath: path)) }

    /// `save(_:)` with a URL.
    public func save(to url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "lamina", "safetensors", "": break
        case "keras":
            throw LaminaError.configuration("\(url.lastPathComponent): save writes Lamina's own files (.lamina); a Keras 3 archive is "
                + "written by the LaminaKeras module (it links libhdf5): import LaminaKeras and call model.saveKeras(path)")
        case "h5", "hdf5":
            throw LaminaError.configuration("\(url.lastPathComponent): Keras's legacy .\(url.pathExtension) format is not supported; "
                + "write .lamina with save, or .keras with LaminaKeras's model.saveKeras(path)")
        default:
            throw LaminaError.configuration("\(url.lastPathComponent): unknown model file extension '.\(url.pathExtension)'; use .lamina")
        }
        try checkDefinition()
        // Under DataParallel every rank holds the same model; rank 0 alone writes it (the
        // others return at once: wait for rank 0 before reading the file on them).
        guard Strategy.isChief else { return }
        let (tensors, metadata) = try ModelFile.contents(of: self)
        try Safetensors.save(tensors, metadata: metadata, to: url)
    }

    /// A model saved by `save`: rebuilt, with its weights, compiled as it was, the
    /// optimizer's slots and iteration count, and `epoch`. With `restoreRandomState` (the
    /// default) the default random generator is set to its state at saving, so that
    /// `fit(..., initialEpoch: model.epoch)` shuffles and drops out exactly as the
    /// uninterrupted run would have. Keras: `keras.models.load_model`.
    public static func load(_ path: String, restoreRandomState: Bool = true) throws -> Self {
        try load(from: URL(fileURLWithPath: path), restoreRandomState: restoreRandomState)
    }

    /// `load(_:restoreRandomState:)` with a URL.
    public static func load(from url: URL, restoreRandomState: Bool = true) throws -> Self {
        let (tensors, metadata) = try Safetensors.load(url)
        return try expecting(ModelFile.model(tensors: tensors, metadata: metadata, file: url.lastPathComponent,
                                             restoreRandomState: restoreRandomState), url.lastPathComponent)
    }

    /// The same from bytes in memory (a file's contents).
    public static func load(bytes: [UInt8], name: String = "model", restoreRandomState: Bool = true) throws -> Self {
        let (tensors, metadata) = try Safetensors.decode(bytes, name: name)
        return try expecting(ModelFile.model(tensors: tensors, metadata: metadata, file: name, restoreRandomState: restoreRandomState), name)
    }

    /// The loaded model as this class: `Model.load` takes any model, `Sequential.load` a Sequential.
    package static func expecting(_ model: Model, _ file: String) throws -> Self {
        guard let typed = model as? Self else {
            throw LaminaError(.io, "\(file): holds a \(model.className) model, not a \(Self.kerasClassName); load it with Model.load")
        }
        return typed
    }
}
