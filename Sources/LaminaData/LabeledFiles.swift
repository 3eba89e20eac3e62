import Foundation
import Lamina

/// The files of a folder and their labels, as Keras's `index_directory` finds them: with
/// `labels: .inferred` each subfolder (sorted, or `classNames`) is a class and its files (any
/// depth, sorted by path) are its samples. Shared by the image and text folder datasets.
struct LabeledFiles {
    var files: [URL]
    /// Class indices (nil without labels).
    var labels: [Int]?
    var classes: [String]

    /// Lists the files of `directory` that `accept` takes, checking the arguments the folder
    /// datasets share; prints Keras's "Found N files belonging to K classes.". `noun` names the
    /// samples in messages, `kind` the files looked for.
    init(_ directory: String, labels: ImageFolderLabels, labelMode: ImageFolder.LabelMode, classNames: [String]?, batchSize: Int?,
         validationSplit: Double?, subset: ImageFolder.Subset?, noun: String, kind: String, accept: (URL) -> Bool) throws {
        let root = URL(fileURLWithPath: directory)
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaminaError(.io, "\(directory) is not a folder")
        }
        if let batchSize, batchSize <= 0 { throw LaminaError(.value, "batchSize must be positive, got \(batchSize)") }
        if (validationSplit == nil) != (subset == nil) { throw LaminaError(.value, "give validationSplit and subset together") }
        if let validationSplit, !(validationSplit > 0 && validationSplit < 1) {
            throw LaminaError(.value, "validationSplit must be in (0, 1), got \(validationSplit)")
        }
        func files(in folder: URL) throws -> [URL] {
            guard let walker = manager.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
                throw LaminaError(.io, "\(folder.path) cannot be listed")
            }
            var found: [URL] = []
            for case let url as URL in walker where accept(url) { found.append(url) }
            return found.sorted { $0.path < $1.path }
        }
        switch labels {
        case .inferred:
            let subfolders = try manager.contentsOfDirectory(at: root, includingPropertiesForKeys: [.isDirectoryKey])
                .filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
                .map(\.lastPathComponent).sorted()
            classes = classNames ?? subfolders
            for name in classes where !subfolders.contains(name) { throw LaminaError(.io, "\(directory) has no class folder '\(name)'") }
            (self.files, self.labels) = ([], [])
            for (index, name) in classes.enumerated() {
                let list = try files(in: root.appendingPathComponent(name))
                self.files += list
                self.labels! += Array(repeating: index, count: list.count)
            }
        case .list(let given):
            self.files = try files(in: root)
            guard given.count == self.files.count else {
                throw LaminaError(.value, "\(given.count) labels for \(self.files.count) \(noun) in \(directory) (labels follow the sorted file paths)")
            }
            guard given.allSatisfy({ $0 >= 0 }) else { throw LaminaError(.value, "labels must be class indices ≥ 0") }
            classes = classNames ?? (0...(given.max() ?? 0)).map(String.init)
            self.labels = given
        case .none:
            (self.files, self.labels, classes) = (try files(in: root), nil, classNames ?? [])
        }
        guard !self.files.isEmpty else { throw LaminaError(.io, "\(directory) holds no \(kind)\(labels == .inferred ? " in class subfolders" : "")") }
        if labelMode == .binary, self.labels != nil, classes.count != 2 {
            throw LaminaError(.value, "labelMode .binary needs 2 classes, found \(classes.count): \(classes.joined(separator: ", "))")
        }
        if let top = self.labels?.max(), top >= classes.count {
            throw LaminaError(.value, "label \(top) has no class name (classNames has \(classes.count))")
        }
        print(self.labels == nil ? "Found \(self.files.count) files." : "Found \(self.files.count) files belonging to \(classes.count) classes.")
    }

    /// Keeps the files where `keep` is true.
    mutating func keep(_ keep: [Bool]) {
        let kept = files.indices.filter { keep[$0] }
        files = kept.map { files[$0] }
        labels = labels.map { labels in kept.map { labels[$0] } }
    }

    /// One seeded shuffle of the files, then the training or validation part (Keras shuffles
    /// before splitting too); prints Keras's "Using N files for training.".
    mutating func split(validationSplit: Double?, subset: ImageFolder.Subset?, shuffle: Bool, seed: UInt64?) throws {
        guard let validationSplit, let subset else { return }
        var order = Array(files.indices)
        var generator = RandomGenerator(seed: seed ?? 1337)
        if shuffle { order.shuffle(using: &generator) }
        let validationCount = Int(validationSplit * Double(files.count))
        let part = subset == .training ? Array(order[0..<(files.count - validationCount)]) : Array(order[(files.count - validationCount)...])
        guard !part.isEmpty else { throw LaminaError(.value, "validationSplit \(validationSplit) leaves the \(subset.rawValue) subset empty") }
        files = part.map { files[$0] }
        labels = labels.map { labels in part.map { labels[$0] } }
        print("Using \(part.count) files for \(subset.rawValue).")
    }
}

extension ImageFolder {
    /// Labels as Keras's folder datasets give them: int32 `[n]`, float32 one-hot `[n, K]`, or
    /// float32 `[n, 1]` of 0 and 1.
    static func labelTensor(_ picked: [Int], mode: LabelMode, classCount: Int) -> Tensor {
        switch mode {
        case .int: return Tensor(shape: [picked.count], scalars: picked.map(Int32.init))
        case .binary: return Tensor(shape: [picked.count, 1], scalars: picked.map(Float.init))
        case .categorical:
            var onehot = [Float](repeating: 0, count: picked.count * classCount)
            for (row, label) in picked.enumerated() { onehot[row * classCount + label] = 1 }
            return Tensor(shape: [picked.count, classCount], scalars: onehot)
        }
    }
}
