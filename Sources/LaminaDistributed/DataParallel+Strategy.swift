import Foundation
import Lamina

// DataParallel as the training loop's distribution strategy: what each step, epoch and
// evaluation exchanges over the collective. The loop (Lamina's Model+Training.swift) calls the
// `DistributionStrategy` operations unconditionally; this file is all of their MPI side.

extension DataParallel: DistributionStrategy {
    package var isChief: Bool { rank == 0 }

    package func run<R>(_ body: () throws -> R) rethrows -> R {
        do { return try body() } catch { abort(error) }
    }

    /// Ends the whole job, every rank, with a message naming this rank and `error`.
    func abort(_ error: Error) -> Never {
        collective.abort("Lamina: rank \(rank) of \(size) failed: \(error)")
    }

    package func shard(_ n: Int) -> Range<Int> { (rank * n / size)..<((rank + 1) * n / size) }

    package func shareOrder(_ order: [Int]) throws -> [Int] { try broadcast(order) }

    /// Every rank starts from rank 0's weights and optimizer state (slots and iteration
    /// count); ranks other than 0 then draw from a generator of their own, so their Dropout
    /// masks differ (the epoch's sample order always comes from rank 0).
    package func synchronize(_ model: Model, optimizer: Optimizer) throws {
        let all = model.weights
        for (v, value) in zip(all, try broadcast(all.map(\.value))) { v.value = value }
        let trained = model.variablesToTrain
        let hasSlots = trained.contains { optimizer.slots(for: $0) != nil }
        let header = try broadcast([optimizer.iterations, hasSlots ? 1 : 0])
        optimizer.iterations = header[0]
        if header[1] == 1 && optimizer.slotCount > 0 {
            let slots = trained.map { v in
                optimizer.slots(for: v) ?? optimizer.freshSlots(for: v)
            }
            let shared = try broadcast(slots.flatMap { $0 })
            for (i, v) in trained.enumerated() {
                optimizer.setSlots(Array(shared[(i * optimizer.slotCount)..<((i + 1) * optimizer.slotCount)]), for: v)
            }
        }
        if rank != 0 && model.synchronizedWith !== self {
            GlobalRandom.with { rng in rng = RandomGenerator(seed: rng.next() ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(rank))) }
        }
        model.synchronizedWith = self
    }

    /// One step's exchange: this rank's gradients weighted by its share of the global batch
    /// (so uneven shards still give the global batch's mean), its weighted loss values and its
    /// BatchNormalization moving statistics, summed across ranks in the same buckets. Each rank
    /// normalizes with its own shard's batch statistics (as TensorFlow's MirroredStrategy and
    /// PyTorch's DDP without SyncBatchNorm); the moving averages are averaged after every step.
    package func exchange(_ model: Model, gradients: [Tensor], values: [Double], share: Double) throws -> (gradients: [Tensor], values: [Double]) {
        func movingStatistics(_ layer: Layer) -> [Variable] {
            (layer is BatchNormalization ? layer.ownWeights.filter { !$0.trainable } : []) + layer.sublayers.flatMap(movingStatistics)
        }
        let stats = model.layers.flatMap(movingStatistics)
        let summed = try allreduceSum(gradients + stats.map(\.value) + [Tensor(shape: [values.count], scalars: values)],
                                      scales: [Double](repeating: share, count: gradients.count)
                                          + [Double](repeating: 1 / Double(size), count: stats.count) + [share],
                                      dtype: model.dtype)
        for (v, value) in zip(stats, summed[gradients.count..<(gradients.count + stats.count)]) {
            v.value = value.cast(to: v.value.dtype)
        }
        return (Array(summed[0..<gradients.count]), summed.last!.scalarsAsDouble())
    }

    package func sum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return v
    }

    /// Every rank must read the same global batches (rank 0 sends the tensor path's order;
    /// a dataset must shuffle with a seed). Checked on each epoch's first batch.
    package func checkSameBatch(_ x: Tensor) throws {
        let mine = [Double(x.shape[0]), x.scalarsAsDouble().enumerated().reduce(0) { $0 + $1.element * Double($1.offset % 7 + 1) }]
        var first = mine
        try first.withUnsafeMutableBytes { try collective.broadcast($0, root: 0) }
        var differs = [first == mine ? 0.0 : 1.0]
        try differs.withUnsafeMutableBufferPointer { try collective.allreduceMax($0) }
        if differs[0] != 0 {
            let who = first == mine ? "another rank's" : "rank \(rank)'s"
            throw LaminaError(.configuration, "DataParallel: the ranks read different batches (\(who) first batch of the epoch "
                + "differs from rank 0's); shuffle datasets with a seed so that every rank reads the same global batches")
        }
    }

    /// The compiled metrics' values over every rank's data: their states summed across ranks
    /// (the local states are left as they are).
    package func metricValues(_ model: Model) throws -> [String: Double] {
        let metrics = model.compiledMetrics
        let local = metrics.map(\.state)
        var lengths = local.map { Double($0.count) }
        try lengths.withUnsafeMutableBufferPointer { try collective.allreduceMax($0) }
        let flat = try sum(zip(local, lengths).flatMap { state, n in state + [Double](repeating: 0, count: Int(n) - state.count) })
        var out = [String: Double]()
        var offset = 0
        for (metric, (key, n)) in zip(metrics, zip(model.metricKeys, lengths.map { Int($0) })) {
            let mine = metric.state
            metric.state = Array(flat[offset..<(offset + n)])
            out[key] = metric.result()
            metric.state = mine
            offset += n
        }
        return out
    }

    /// Every rank's outputs for its shard of the rows of `inputs` (nil for an empty shard),
    /// put back together in order on every rank.
    package func gather(_ local: [Tensor]?, of model: Model, inputs: [Tensor]) throws -> [Tensor] {
        let n = inputs[0].shape[0]
        let outShapes = try model.outputShapes(for: inputs)
        var parts = [[Tensor]](repeating: [], count: outShapes.count)
        for r in 0..<size {
            let rows = (r * n / size)..<((r + 1) * n / size)
            guard !rows.isEmpty else { continue }
            let mine = r == rank ? local! : outShapes.map { Tensor.zeros([rows.count] + $0, dtype: model.dtype) }
            for (i, t) in try broadcast(mine, root: r).enumerated() { parts[i].append(t) }
        }
        return parts.map { Tensor.concatenated($0, axis: 0) }
    }

    // MARK: - Collective helpers

    private var bucketBytes: Int { Int(bucketSizeMB * 1_048_576) }

    /// Rank `root`'s tensors' values, into every rank's tensors of the same shapes.
    func broadcast(_ tensors: [Tensor], root: Int = 0) throws -> [Tensor] {
        var bytes = [UInt8]()
        for t in tensors { t.withUnsafeRawBytes { bytes.append(contentsOf: $0) } }
        try bytes.withUnsafeMutableBytes { try collective.broadcast($0, root: root) }
        var offset = 0
        return bytes.withUnsafeBytes { raw in
            tensors.map { t in
                let n = t.count * t.dtype.byteSize
                defer { offset += n }
                return Tensor.fromRawBytes(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), shape: t.shape, dtype: t.dtype)
            }
        }
    }

    /// Rank `root`'s integers (an epoch's sample order).
    func broadcast(_ values: [Int], root: Int = 0) throws -> [Int] {
        var v = values.map { Int64($0) }
        try v.withUnsafeMutableBytes { try collective.broadcast($0, root: root) }
        return v.map { Int($0) }
    }

    /// Sums `scale × tensor` across ranks in few large calls: the scaled values are written
    /// straight into one flat buffer of `dtype`, reduced in buckets of at most `bucketBytes`,
    /// and copied out into tensors of the inputs' shapes.
    func allreduceSum(_ tensors: [Tensor], scales: [Double], dtype: DType) throws -> [Tensor] {
        func reduce<T: FloatScalar>(_: T.Type, _ sum: (UnsafeMutableBufferPointer<T>) throws -> Void) throws -> [Tensor] {
            var flat = [T]()
            flat.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
            for (t, scale) in zip(tensors, scales) {
                let s = T(scale)
                (t.dtype == dtype ? t : t.cast(to: dtype)).withUnsafeRawBytes { raw in
                    flat.append(contentsOf: raw.assumingMemoryBound(to: T.self).lazy.map { $0 * s })
                }
            }
            let perBucket = Swift.max(1, bucketBytes / MemoryLayout<T>.stride)
            try flat.withUnsafeMutableBufferPointer { all in
                for start in stride(from: 0, to: all.count, by: perBucket) {
                    try sum(UnsafeMutableBufferPointer(rebasing: all[start..<Swift.min(all.count, start + perBucket)]))
                }
            }
            var offset = 0
            return flat.withUnsafeBytes { raw in
                tensors.map { t in
                    let n = t.count * MemoryLayout<T>.stride
                    defer { offset += n }
                    return Tensor.fromRawBytes(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), shape: t.shape, dtype: dtype)
                }
            }
        }
        switch dtype {
        case .float64: return try reduce(Double.self) { try allreduceSum($0) }
        default: return try reduce(Float.self) { try allreduceSum($0) }
        }
    }
}

extension Tensor {
    /// A tensor holding `bytes` (row-major, host byte order) as `dtype`.
    static func fromRawBytes(_ bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) -> Tensor {
        func make<T: TensorScalar>(_: T.Type) -> Tensor {
            Tensor.build(shape, as: T.self) { out in
                if let src = bytes.baseAddress, !bytes.isEmpty { _ = memcpy(out.baseAddress!, src, bytes.count) }
            }
        }
        switch dtype {
        case .float32: return make(Float.self)
        case .float64: return make(Double.self)
        case .int32: return make(Int32.self)
        }
    }
}
