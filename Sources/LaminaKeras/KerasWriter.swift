import Foundation
import Lamina
import ZIPFoundation

extension KerasFile {
    /// The Keras release whose `.keras` layout Lamina writes (recorded in `metadata.json`).
    public static let writtenKerasVersion = "3.15.1"

    /// Writes `model` as a Keras 3 `.keras` archive that `keras.models.load_model` opens:
    /// `metadata.json`, `config.json` (architecture, and compile settings when compiled) and
    /// `model.weights.h5` (libhdf5) with the layers' weights and, after training, the
    /// optimizer's state in Keras's layout so training continues in Keras. The archive is
    /// built in memory and written atomically (a temporary file renamed over the target).
    /// Keras: `model.save("model.keras")`.
    public static func save(_ model: Model, to url: URL) throws {
        guard url.pathExtension.lowercased() == "keras" else {
            throw LaminaError(.configuration, "\(url.lastPathComponent): a Keras archive is named .keras")
        }
        try model.checkDefinition()
        if let sequential = model as? Sequential {
            guard let inputShape = sequential.modelInputShape, model.isBuilt || (try? model.buildIfNeeded(inputShape)) != nil else {
                throw LaminaError(.configuration, "\(model.name) is not built: give it an input shape (Input(shape:) or inputShape:) before saving")
            }
        }
        let config = try JSONSerialization.data(withJSONObject: configObject(model), options: [.sortedKeys])
        let date = ISO8601DateFormatter().string(from: Date())
        let metadata = try JSONSerialization.data(withJSONObject: ["keras_version": writtenKerasVersion, "date_saved": date,
                                                                   "producer": "Lamina"], options: [.sortedKeys])
        let weights = try HDF5Writer.image(name: "\(url.lastPathComponent)/model.weights.h5") { try writeWeights(model, $0) }
        let archive: Archive
        do {
            archive = try Archive(accessMode: .create)
            for (path, bytes) in [("metadata.json", metadata), ("config.json", config), ("model.weights.h5", Data(weights))] {
                try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .deflate) { position, size in
                    bytes.subdata(in: Int(position)..<Int(position) + size)
                }
            }
        } catch {
            throw LaminaError(.io, "\(url.lastPathComponent): cannot build the zip archive (\(error))")
        }
        guard let data = archive.data else { throw LaminaError(.io, "\(url.lastPathComponent): the zip archive is empty") }
        try AtomicFile.write(data, to: url)
    }

    /// `config.json`: the model as Keras serializes it, with the compile settings Keras's
    /// `compile_from_config` takes.
    static func configObject(_ model: Model) throws -> [String: Any] {
        var object = try model.serialize()
        if let compile = try model.kerasCompileConfig() { object["compile_config"] = compile }
        return object
    }

    /// `layers/<key>/.../vars/<i>` for every weight, an empty `vars` group for each layer
    /// without weights, then `optimizer/vars/<i>`.
    static func writeWeights(_ model: Model, _ h5: HDF5Writer) throws {
        try h5.group("vars")
        for (layer, path) in layerGroups(model) {
            let paths = layer.kerasWeightPaths
            if let tv = layer as? TextVectorization, tv.outputMode == .tfIdf, !tv.idfWeights.isEmpty {
                // Keras's StringLookup saves its idf weights by name, in the layer's store and its lookup layer's.
                let idf = Tensor(shape: [tv.idfWeights.count], scalars: tv.idfWeights)
                for store in ["vars", "_lookup_layer/vars"] { try h5.write(idf, at: "\(path)/\(store)/idf_weights") }
                continue
            }
            if paths.isEmpty { try h5.group(path + "/" + layer.kerasVariablesPath) }
            for (relative, weight) in zip(paths, layer.weights) {
                if weight.kerasByteSize == 8, weight.value.shape.isEmpty {   // Keras's int64 scalars (Normalization's count)
                    try h5.write(int64: Int64(weight.value.scalarsAsDouble()[0].rounded()), at: path + "/" + relative)
                } else {
                    try h5.write(weight.value, at: path + "/" + relative)
                }
            }
        }
        guard let state = model.kerasOptimizerState() else { return }
        var index = 0
        func next() -> String { defer { index += 1 }; return "optimizer/vars/\(index)" }
        try h5.write(int64: Int64(state.iterations), at: next())
        if let rate = state.learningRate { try h5.write(Tensor(shape: [], scalars: [Float(rate)]), at: next()) }
        for slot in state.slots { try h5.write(slot, at: next()) }
        for scalar in state.trailingScalars { try h5.write(Tensor(shape: [], scalars: [Float(scalar)]), at: next()) }
    }
}

extension Model {
    /// Writes this model as a Keras 3 `.keras` archive (see `KerasFile.save`). Keras:
    /// `model.save("model.keras")`; Lamina's own `save` writes `.lamina` files.
    public func saveKeras(_ path: String) throws {
        try KerasFile.save(self, to: URL(fileURLWithPath: path))
    }
}
