import Foundation
import Lamina
import LaminaZip
import ZIPFoundation

/// Reading Keras 3 `.keras` files: a zip archive (read with ZIPFoundation) holding
/// `config.json` (the model's architecture and compile settings) and `model.weights.h5`
/// (the weights, read with libhdf5).
///
/// Lamina validates the archive's entries, the config (unknown layers and options are
/// errors that name them) and every dataset's type and shape. The HDF5 bytes themselves
/// are parsed by libhdf5, which is not hardened against hostile files: treat `.keras` files
/// as trusted input to that extent (Lamina's own model files are safetensors and fully
/// checked).
public enum KerasFile {
    /// The largest `config.json` and `model.weights.h5` Lamina extracts.
    public static let maximumConfigBytes = 64 << 20
    /// The largest `model.weights.h5` Lamina extracts (4 GiB).
    public static let maximumWeightsBytes = 4 << 30

    /// The model in `url`, with Keras's weights, compiled as saved when `compile` is true and
    /// the file has compile settings. Keras: `keras.models.load_model(path)`.
    public static func load(_ url: URL, compile: Bool = true) throws -> Model {
        let file = url.lastPathComponent
        let archive = try BoundedArchive.open(url, what: ".keras")
        let configBytes = try extract("config.json", from: archive, file: file, limit: maximumConfigBytes)
        guard let weightsEntry = archive["model.weights.h5"] else { throw LaminaError(.io, "\(file) has no model.weights.h5") }
        // float32 weights take 4 bytes each: a config asking for more than that cannot be honest.
        let supplied = Int(min(weightsEntry.uncompressedSize, UInt64(maximumWeightsBytes))) / 4
        let model = try LayerRegistry.$weightElementLimit.withValue(supplied) {
            try KerasFile.model(fromConfigJSON: configBytes, file: file, compile: compile)
        }
        let weights = try extract("model.weights.h5", from: archive, file: file, limit: maximumWeightsBytes)
        let h5 = try HDF5File(image: weights, name: "\(file)/model.weights.h5")
        try loadWeights(into: model, from: h5)
        try loadTextVocabularies(into: model, from: archive, h5: h5, file: file)
        try loadOptimizerState(into: model, from: h5)
        return model
    }

    /// The model in the file at `path` (see `load(_:compile:)` with a URL).
    public static func load(_ path: String, compile: Bool = true) throws -> Model {
        try load(URL(fileURLWithPath: path), compile: compile)
    }

    /// The (freshly initialized) model that a `config.json` describes, compiled when asked
    /// and possible.
    public static func model(fromConfigJSON bytes: [UInt8], file: String = "config.json", compile: Bool = true) throws -> Model {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(file): \(why)") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw fail("config.json is not a JSON object")
        }
        guard let className = object["class_name"] as? String else { throw fail("config.json has no class_name") }
        guard className == "Sequential" || className == "Functional" else {
            throw fail("the model is a \(className); Lamina loads Sequential and functional models (a subclassed model's config cannot be rebuilt)")
        }
        do {
            guard let model = try LayerRegistry.make(object) as? Model else { throw fail("not a model") }
            if let sequential = model as? Sequential, sequential.modelInputShape == nil {
                throw fail("the config does not give the input shape (save a model that starts with keras.Input)")
            }
            // An uncompiled Keras model has "compile_config": {} (or null).
            if compile, let compileConfig = object["compile_config"] as? [String: Any], !compileConfig.isEmpty {
                try model.compile(fromConfig: compileConfig)
            }
            return model
        } catch let error as LaminaError where error.kind == .configuration || error.kind == .shape {
            throw fail(error.message)
        }
    }

    private static func extract(_ path: String, from archive: Archive, file: String, limit: Int) throws -> [UInt8] {
        guard let entry = archive[path] else { throw LaminaError(.io, "\(file) has no \(path) (is it a Keras 3 .keras file?)") }
        return try BoundedArchive.contents(of: entry, in: archive, limit: limit, name: "\(file): \(path)")
    }

    /// Keras's layout: `layers/<key>/<kerasWeightPaths>`, where the key is the snake_case
    /// class name made unique within its container (`dense`, `dense_1`) and the paths the
    /// layer's own (`vars/<i>`; `cell/vars/<i>` for recurrent layers); nested models in
    /// `<key>/layers/...`. Returns each layer that is not a model with its group.
    static func layerGroups(_ model: Model) -> [(layer: Layer, path: String)] {
        var out: [(Layer, String)] = []
        func walk(_ container: Model, _ prefix: String) {
            var used: [String: Int] = [:]
            for layer in container.layers {
                // keras.ops calls are operations, not layers, in Keras's weights file.
                if layer is NumPyOperation { continue }
                var key = LayerRegistry.snakeCase(layer.className)
                if let n = used[key] { used[key] = n + 1; key += "_\(n + 1)" } else { used[key] = 0 }
                let path = prefix + "layers/" + key
                if let nested = layer as? Model { walk(nested, path + "/"); continue }
                out.append((layer, path))
            }
        }
        walk(model, "")
        return out
    }

    static func loadWeights(into model: Model, from h5: HDF5File) throws {
        var assignments: [(Layer, [Tensor])] = []
        for (layer, path) in layerGroups(model) {
            if layer is TextVectorization { continue }   // its state is a vocabulary (loadTextVocabularies)
            let expected = layer.weights
            let paths = layer.kerasWeightPaths.map { path + "/" + $0 }
            var groups = Set(paths.map { String($0[..<($0.lastIndex(of: "/") ?? $0.endIndex)]) })
            if paths.isEmpty { groups.insert(path + "/" + layer.kerasVariablesPath) }
            let stored = try groups.reduce(0) { $0 + (h5.exists($1) ? try h5.memberCount($1) : 0) }
            guard stored == expected.count, paths.count == expected.count else {
                throw LaminaError(.io, "\(h5.name): \(groups.sorted().joined(separator: ", ")) hold\(groups.count == 1 ? "s" : "") \(stored) weights, \(layer.name) (\(layer.className)) has \(expected.count)")
            }
            let values = try paths.map { try h5.floats($0) }
            for (v, (t, p)) in zip(expected, zip(values, paths)) where v.shape != t.shape {
                throw LaminaError(.io, "\(h5.name): \(p) holds \(t.shape) for \(v.name), which is \(v.shape)")
            }
            assignments.append((layer, values))
        }
        for (layer, values) in assignments { try layer.setWeights(values) }
    }

    /// The vocabulary of each `TextVectorization` whose config holds none: Keras's
    /// `assets/<layer path>/vocabulary.txt`, with `vars/idf_weights` in tf_idf mode.
    static func loadTextVocabularies(into model: Model, from archive: Archive, h5: HDF5File, file: String) throws {
        for (layer, path) in layerGroups(model) {
            guard let tv = layer as? TextVectorization, tv.getVocabulary(includeSpecialTokens: false).isEmpty,
                  archive["assets/\(path)/vocabulary.txt"] != nil else { continue }
            let text = try extract("assets/\(path)/vocabulary.txt", from: archive, file: file, limit: maximumConfigBytes)
            let idfPath = path + "/vars/idf_weights"
            let idf = tv.outputMode == .tfIdf && h5.exists(idfPath) ? try h5.floats(idfPath).scalarsAsDouble() : nil
            try tv.loadVocabularyAsset(String(decoding: text, as: UTF8.self), idfWeights: idf)
        }
    }

    /// The optimizer's state from `optimizer/vars` when the model is compiled and the file has
    /// one that fits (Keras's `optimizer.variables`: iterations, learning rate unless scheduled,
    /// slots, trailing scalars). A file saved before any training step has none: the optimizer
    /// starts fresh, as in Keras. One that does not fit this optimizer is an error.
    static func loadOptimizerState(into model: Model, from h5: HDF5File) throws {
        guard let optimizer = model.optimizer, h5.exists("optimizer/vars") else { return }
        let count = try h5.memberCount("optimizer/vars")
        guard count > 0 else { return }
        let hasRate = optimizer.schedule == nil, trailing = optimizer.kerasTrailingScalars.count
        let slotCount = count - 1 - (hasRate ? 1 : 0) - trailing
        guard slotCount >= 0 else { throw LaminaError(.io, "\(h5.name): optimizer/vars holds \(count) variables, too few for \(optimizer.name)") }
        let iterations = try h5.number("optimizer/vars/0")
        guard iterations >= 0, iterations < 1e15, iterations == iterations.rounded() else {
            throw LaminaError(.io, "\(h5.name): optimizer/vars/0 (iterations) is \(iterations)")
        }
        let rate = hasRate ? try h5.number("optimizer/vars/1") : nil
        let first = hasRate ? 2 : 1
        let slots = try (first..<(first + slotCount)).map { try h5.floats("optimizer/vars/\($0)") }
        do {
            try model.setKerasOptimizerState(KerasOptimizerState(iterations: Int(iterations), learningRate: rate, slots: slots,
                                                                 trailingScalars: []))
        } catch let error as LaminaError {
            throw LaminaError(.io, "\(h5.name): optimizer/vars does not fit \(optimizer.name): \(error.message)")
        }
    }
}

extension Model {
    /// A Keras 3 `.keras` file. Keras: `keras.models.load_model(path)`. See `KerasFile`.
    /// `Model.loadKeras` returns whatever the file holds (a `Sequential` or a functional
    /// model); `Sequential.loadKeras` insists on a Sequential.
    public static func loadKeras(_ path: String, compile: Bool = true) throws -> Self {
        try expecting(KerasFile.load(path, compile: compile), URL(fileURLWithPath: path).lastPathComponent)
    }
}
