import Foundation
import Lamina

/// The `.txt` files of a folder and their labels; each batch is read on demand and encoded
/// with `Tensor(texts:)` (padded to its longest text), which `TextVectorization` reads.
public struct TextFolderSource: DataSource {
    /// The `.txt` files, in class order then file-name order (Keras's order).
    public let files: [URL]
    /// Class indices (nil without labels).
    public let labels: [Int]?
    /// The class names: the subfolders' names, sorted (or as given).
    public let classNames: [String]
    /// How labels are encoded.
    public let labelMode: ImageFolder.LabelMode
    /// Texts longer than this many UTF-8 bytes are cut (Keras's `max_length`, which cuts bytes),
    /// dropping a character the cut splits.
    public let maxLength: Int?

    /// The number of texts.
    public var count: Int { files.count }

    /// The text of file `i` (UTF-8; invalid bytes are replaced, as Keras's decoding does).
    public func text(_ i: Int) throws -> String {
        let text = String(decoding: try readFileBytes(files[i]), as: UTF8.self)
        guard let maxLength, text.utf8.count > maxLength else { return text }
        var bytes = Array(text.utf8.prefix(maxLength))
        while String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }   // a split character
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The texts at `indices` as a string tensor (`Tensor(texts:)`), with their labels.
    public func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) {
        let x = Tensor(texts: try indices.map(text))
        return (x, labels.map { labels in ImageFolder.labelTensor(indices.map { labels[$0] }, mode: labelMode, classCount: classNames.count) })
    }
}

extension Dataset {
    /// A dataset of the `.txt` files under `directory`, Keras's `text_dataset_from_directory`:
    /// with `labels: .inferred` each subfolder (sorted, or `classNames`) is a class; texts are
    /// cut to `maxLength` UTF-8 bytes; batched by `batchSize` (nil: single texts) and shuffled
    /// each epoch when `shuffle` (seeded by `seed`). `validationSplit` with `subset` keeps one
    /// part of one seeded shuffle of the files (the same seed gives disjoint parts).
    ///
    /// Texts travel as `Tensor(texts:)`: batches are encoded whole by the source, so give
    /// `batchSize` here (or batch straight after it) rather than batching single texts of
    /// different lengths after a map.
    public static func textDatasetFromDirectory(
        _ directory: String, labels: ImageFolderLabels = .inferred, labelMode: ImageFolder.LabelMode = .int,
        classNames: [String]? = nil, batchSize: Int? = 32, maxLength: Int? = nil, shuffle: Bool = true, seed: UInt64? = nil,
        validationSplit: Double? = nil, subset: ImageFolder.Subset? = nil
    ) throws -> (dataset: Dataset, source: TextFolderSource) {
        if let maxLength, maxLength <= 0 { throw LaminaError(.value, "maxLength must be positive, got \(maxLength)") }
        var index = try LabeledFiles(directory, labels: labels, labelMode: labelMode, classNames: classNames, batchSize: batchSize,
                                     validationSplit: validationSplit, subset: subset, noun: "texts", kind: ".txt files") {
            $0.pathExtension.lowercased() == "txt"
        }
        try index.split(validationSplit: validationSplit, subset: subset, shuffle: shuffle, seed: seed)
        let source = TextFolderSource(files: index.files, labels: index.labels, classNames: index.classes, labelMode: labelMode, maxLength: maxLength)
        var dataset = Dataset(source)
        if shuffle { dataset = dataset.shuffle(seed: seed) }
        if let batchSize { dataset = dataset.batch(batchSize) }
        return (dataset, source)
    }
}
