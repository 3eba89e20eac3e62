import Foundation
import Lamina

/// Images in a folder, one subfolder per class, as a dataset. Keras:
/// `keras.utils.image_dataset_from_directory`.
public enum ImageFolder {
    public enum LabelMode: String, Sendable { case int, categorical, binary }
    public enum ColorMode: String, Sendable {
        case grayscale, rgb, rgba
        var channels: Int { self == .grayscale ? 1 : self == .rgb ? 3 : 4 }
    }
    public enum Subset: String, Sendable { case training, validation }
    /// What to do with a file that does not decode as an image.
    public enum BadFiles: Sendable { case error, skip }

    /// The image file extensions read (Keras also lists .bmp and .gif, which Lamina does not decode).
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]
}

/// The files of an image folder and their labels; batches are decoded and resized on demand.
public struct ImageFolderSource: DataSource {
    public let files: [URL]
    /// Class indices (nil without labels).
    public let labels: [Int]?
    public let classNames: [String]
    public let imageSize: (height: Int, width: Int)
    public let colorMode: ImageFolder.ColorMode
    public let labelMode: ImageFolder.LabelMode
    /// Files skipped because they did not decode (with `badFiles: .skip`).
    public let skipped: [URL]

    public var count: Int { files.count }

    public func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) {
        let (h, w, c) = (imageSize.height, imageSize.width, colorMode.channels)
        var values = [Float]()
        values.reserveCapacity(indices.count * h * w * c)
        for i in indices {
            let url = files[i]
            values += try ImageDecoder.decode(try readFileBytes(url), channels: c, name: url.path).resized(height: h, width: w)
        }
        let x = Tensor(shape: [indices.count, h, w, c], scalars: values)
        guard let labels else { return (x, nil) }
        let picked = indices.map { labels[$0] }
        switch labelMode {
        case .int: return (x, Tensor(shape: [picked.count], scalars: picked.map(Int32.init)))
        case .binary: return (x, Tensor(shape: [picked.count, 1], scalars: picked.map(Float.init)))
        case .categorical:
            let n = classNames.count
            var onehot = [Float](repeating: 0, count: picked.count * n)
            for (row, label) in picked.enumerated() { onehot[row * n + label] = 1 }
            return (x, Tensor(shape: [picked.count, n], scalars: onehot))
        }
    }
}

extension Dataset {
    /// A dataset of the images under `directory`, Keras's `image_dataset_from_directory`:
    /// with `labels: .inferred` each subfolder (in sorted order, or `classNames`) is a class;
    /// images are decoded (PNG, JPEG) to `colorMode` and resized to `imageSize` with bilinear
    /// sampling as float32 in 0…255; batched by `batchSize` (nil: single samples); shuffled
    /// each epoch when `shuffle` (seeded by `seed`). `validationSplit` with `subset` keeps the
    /// training or validation part of one seeded shuffle of the files (the same seed gives
    /// disjoint parts). A file that does not decode is an error naming it when its batch is
    /// read, or, with `badFiles: .skip`, left out (every file is decoded once up front) and
    /// listed in `source.skipped`.
    public static func imageDatasetFromDirectory(
        _ directory: String, labels: ImageFolderLabels = .inferred, labelMode: ImageFolder.LabelMode = .int,
        classNames: [String]? = nil, colorMode: ImageFolder.ColorMode = .rgb, batchSize: Int? = 32,
        imageSize: (Int, Int) = (256, 256), shuffle: Bool = true, seed: UInt64? = nil, validationSplit: Double? = nil,
        subset: ImageFolder.Subset? = nil, badFiles: ImageFolder.BadFiles = .error
    ) throws -> (dataset: Dataset, source: ImageFolderSource) {
        let root = URL(fileURLWithPath: directory)
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LaminaError(.io, "\(directory) is not a folder")
        }
        guard imageSize.0 > 0, imageSize.1 > 0 else { throw LaminaError(.value, "imageSize \(imageSize) must be positive") }
        if let batchSize, batchSize <= 0 { throw LaminaError(.value, "batchSize must be positive, got \(batchSize)") }
        if (validationSplit == nil) != (subset == nil) { throw LaminaError(.value, "give validationSplit and subset together") }
        if let validationSplit, !(validationSplit > 0 && validationSplit < 1) {
            throw LaminaError(.value, "validationSplit must be in (0, 1), got \(validationSplit)")
        }

        func images(in folder: URL) throws -> [URL] {
            guard let walker = manager.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
                throw LaminaError(.io, "\(folder.path) cannot be listed")
            }
            var found: [URL] = []
            for case let url as URL in walker {
                let ext = url.pathExtension.lowercased()
                if ImageFolder.extensions.contains(ext) { found.append(url) } else if ext == "bmp" || ext == "gif" { undecoded.append(url) }
            }
            return found.sorted { $0.path < $1.path }
        }
        var undecoded: [URL] = []   // Keras reads these; say so rather than skip them silently
        defer {
            if !undecoded.isEmpty {
                let first = undecoded.map(\.lastPathComponent).sorted()[0]
                Lamina.logger.warning("\(directory): \(undecoded.count) BMP/GIF file(s) left out — Lamina decodes PNG and JPEG only (first: \(first))")
            }
        }
        var files: [URL] = [], classes: [String] = [], fileLabels: [Int]? = nil
        switch labels {
        case .inferred:
            let subfolders = try manager.contentsOfDirectory(at: root, includingPropertiesForKeys: [.isDirectoryKey])
                .filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
                .map(\.lastPathComponent).sorted()
            classes = classNames ?? subfolders
            for name in classes where !subfolders.contains(name) { throw LaminaError(.io, "\(directory) has no class folder '\(name)'") }
            var found: [Int] = []
            for (index, name) in classes.enumerated() {
                let list = try images(in: root.appendingPathComponent(name))
                files += list
                found += Array(repeating: index, count: list.count)
            }
            fileLabels = found
        case .list(let given):
            files = try images(in: root)
            guard given.count == files.count else {
                throw LaminaError(.value, "\(given.count) labels for \(files.count) images in \(directory) (labels follow the sorted file paths)")
            }
            guard given.allSatisfy({ $0 >= 0 }) else { throw LaminaError(.value, "labels must be class indices ≥ 0") }
            classes = classNames ?? (0...(given.max() ?? 0)).map(String.init)
            fileLabels = given
        case .none:
            files = try images(in: root)
        }
        guard !files.isEmpty else { throw LaminaError(.io, "\(directory) holds no images (.png, .jpg, .jpeg)\(labels == .inferred ? " in class subfolders" : "")") }
        if labelMode == .binary, fileLabels != nil, classes.count != 2 {
            throw LaminaError(.value, "labelMode .binary needs 2 classes, found \(classes.count): \(classes.joined(separator: ", "))")
        }
        if let fileLabels, let top = fileLabels.max(), top >= classes.count {
            throw LaminaError(.value, "label \(top) has no class name (classNames has \(classes.count))")
        }

        // Validate every file (a full decode) when bad files are to be skipped; else check headers.
        var skipped: [URL] = []
        var keep = [Bool](repeating: true, count: files.count)
        for (i, url) in files.enumerated() {
            let bytes = try readFileBytes(url)
            do {
                if badFiles == .skip { _ = try ImageDecoder.decode(bytes, channels: colorMode.channels, name: url.path) }
                else { _ = try ImageDecoder.size(bytes, name: url.path) }
            } catch {
                guard badFiles == .skip else { throw error }
                keep[i] = false
                skipped.append(url)
            }
        }
        files = files.indices.filter { keep[$0] }.map { files[$0] }
        fileLabels = fileLabels.map { labels in labels.indices.filter { keep[$0] }.map { labels[$0] } }

        // One seeded shuffle of the files, then the split (Keras shuffles before splitting too).
        if let validationSplit, let subset {
            var order = Array(files.indices)
            var generator = RandomGenerator(seed: seed ?? 1337)
            if shuffle { order.shuffle(using: &generator) }
            let validationCount = Int(validationSplit * Double(files.count))
            let part = subset == .training ? Array(order[0..<(files.count - validationCount)]) : Array(order[(files.count - validationCount)...])
            guard !part.isEmpty else { throw LaminaError(.value, "validationSplit \(validationSplit) leaves the \(subset.rawValue) subset empty") }
            files = part.map { files[$0] }
            fileLabels = fileLabels.map { labels in part.map { labels[$0] } }
        }
        let source = ImageFolderSource(files: files, labels: fileLabels, classNames: classes, imageSize: (imageSize.0, imageSize.1),
                                       colorMode: colorMode, labelMode: labelMode, skipped: skipped)
        var dataset = Dataset(source)
        if shuffle { dataset = dataset.shuffle(seed: seed) }
        if let batchSize { dataset = dataset.batch(batchSize) }
        return (dataset, source)
    }
}

/// Where an image folder's labels come from (Keras's `labels`: "inferred", a list, or None).
public enum ImageFolderLabels: Sendable, Equatable {
    case inferred
    case list([Int])
    case none
}
