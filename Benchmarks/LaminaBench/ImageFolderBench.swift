import Foundation
import Lamina
import LaminaData

/// The image-folder pipeline of issue 23 (Benchmarks/peers/image_folder_bench.py makes the
/// folder and runs the Keras + tf.data side): one pass of decode + resize to 128×128 (the 32
/// images of a batch on Lamina's threads) + a random horizontal flip + scale to 0…1, batch 32,
/// prefetched; timed after a warm-up pass that fills the page cache.
func benchImageFolder(directory: String) throws {
    let (folder, _) = try Dataset.imageDatasetFromDirectory(directory, batchSize: 32, imageSize: (128, 128), shuffle: true, seed: 1)
    nonisolated(unsafe) let flip = RandomFlip(mode: .horizontal, seed: 1)   // used by the map alone, one batch at a time
    let pipeline = folder.map { x, y in (try flip(x, training: true) * (1.0 / 255), y) }.prefetch(2)
    func pass() throws -> (Int, Double) {
        let start = now()
        let iterator = try pipeline.makeIterator()
        var n = 0
        while let (x, _) = try iterator.next() { n += x.shape[0] }
        return (n, now() - start)
    }
    _ = try pass()
    let (n, t) = try pass()
    emit(["workload": "image_folder", "samples": n, "epoch_s": rounded(t), "samples_per_s": rounded(Double(n) / t, 1)])
}
