import Foundation
import Lamina

/// Images in a folder, one subfolder per class, as a dataset. Keras:
/// `keras.utils.image_dataset_from_directory`.
public enum ImageFolder {
    /// How labels come: class indices int32 `[N]`, one-hot float32 `[N, classes]`, or float32 `[N, 1]` for two classes. Keras's `label_mode`.
    public enum LabelMode: String, Sendable { case int, categorical, binary }
    /// How many channels images are decoded to. Keras's `color_mode`.
    public enum ColorMode: String, Sendable {
        /// One channel, three, or four (with alpha).
        case grayscale, rgb, rgba
        var channels: Int { self == .grayscale ? 1 : self == .rgb ? 3 : 4 }
    }
    /// Which part of a `validationSplit` to read. Keras's `subset`.
    public enum Subset: String, Sendable { case training, validation }
    /// What to do with a file that does not decode as an image.
    public enum BadFiles: Sendable { case error, skip }

    /// The image file extensions read (Keras's list: GIFs give their first frame).
    public static let extensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "gif"]
}

/// The files of an image folder and their labels; batches are decoded and resized on demand.
public struct ImageFolderSource: DataSource {
    /// The image files, in class order then file-name order (Keras's order).
    public let files: [URL]
    /// Class indices (nil without labels).
    public let labels: [Int]?
    /// The class names: the subfolders' names, sorted (or as given).
    public let classNames: [String]
    /// The size every image is resized to (bilinear, as Keras's default).
    public let imageSize: (height: Int, width: Int)
    /// How many channels each image is decoded to.
    public let colorMode: ImageFolder.ColorMode
    /// How labels are encoded.
    public let labelMode: ImageFolder.LabelMode
    /// Files skipped because they did not decode (with `badFiles: .skip`).
    public let skipped: [URL]

    /// The number of images.
    public var count: Int { files.count }

    /// The images at `indices`, decoded and resized on Lamina's threads (each into its own slot,
    /// so the batch is the same on any number of threads); the first failing file's error.
    public func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) {
        let (h, w, c) = (imageSize.height, imageSize.width, colorMode.channels)
        let per = h * w * c
        let failures = Locked<[(Int, any Error)]>([])
        let x = Tensor.build([indices.count, h, w, c], as: Float.self) { out in
            let base = out.baseAddress!
            Kernels.parallelFor(indices.count) { range in
                for k in range {
                    let url = files[indices[k]]
                    do {
                        try ImageDecoder.decode(try readFileBytes(url), channels: c, name: url.path).resize(into: base + k * per, height: h, width: w)
                    } catch {
                        failures.withLock { $0.append((k, error)) }
                    }
                }
            }
        }
        if let (_, error) = failures.withLock({ $0.min { $0.0 < $1.0 } }) { throw error }
        return (x, labels.map { labels in ImageFolder.labelTensor(indices.map { labels[$0] }, mode: labelMode, classCount: classNames.count) })
    }
}

extension Dataset {
    /// A dataset of the images under `directory`, Keras's `image_dataset_from_directory`:
    /// with `labels: .inferred` each subfolder (in sorted order, or `classNames`) is a class;
    /// images are decoded (PNG, JPEG, BMP, GIF's first frame) to `colorMode` and resized to `imageSize` with bilinear
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
        guard imageSize.0 > 0, imageSize.1 > 0 else { throw LaminaError(.value, "imageSize \(imageSize) must be positive") }
        var index = try LabeledFiles(directory, labels: labels, labelMode: labelMode, classNames: classNames, batchSize: batchSize,
                                     validationSplit: validationSplit, subset: subset, noun: "images", kind: "images (.png, .jpg, .jpeg, .bmp, .gif)") { url in
            ImageFolder.extensions.contains(url.pathExtension.lowercased())
        }

        // Validate every file (a full decode) when bad files are to be skipped; else check headers.
        var skipped: [URL] = []
        var keep = [Bool](repeating: true, count: index.files.count)
        for (i, url) in index.files.enumerated() {
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
        index.keep(keep)
        try index.split(validationSplit: validationSplit, subset: subset, shuffle: shuffle, seed: seed)
        let (files, fileLabels, classes) = (index.files, index.labels, index.classes)
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
    /// From the subfolders: one class per subfolder (Keras's default, `"inferred"`).
    case inferred
    /// Given, one per file in Keras's file order.
    case list([Int])
    /// No labels (a dataset of images only).
    case none
}
