import Foundation

/// The processes a model trains across, as the training loop sees them. LaminaDistributed's
/// `DataParallel` is the one implementation (over MPI); the core only needs these few
/// collective operations, so `import Lamina` never links MPI.
package protocol ProcessGroup: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// The most bytes one gradient allreduce carries (gradients are fused into buckets).
    var bucketBytes: Int { get }
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
    func allreduceMax(_ values: UnsafeMutableBufferPointer<Double>) throws
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Ends the whole job, every rank, with a message naming this rank and `error`.
    func abort(_ error: Error) -> Never
}

/// The process group `fit`, `evaluate`, `predict` and `save` follow (set by
/// LaminaDistributed's `Distribution.set`); nil: one process.
package enum ProcessGroups {
    private static let group = Locked<(any ProcessGroup)?>(nil)
    package static var current: ProcessGroup? {
        get { group.withLock { $0 } }
        set { group.withLock { $0 = newValue } }
    }
    /// Whether this process prints and writes files: rank 0, or the only process.
    package static var isChief: Bool { (current?.rank ?? 0) == 0 }

    /// This rank's rows of a global batch of `n`: contiguous, sizes differing by at most one.
    package static func shard(_ n: Int, _ group: ProcessGroup) -> Range<Int> {
        (group.rank * n / group.size)..<((group.rank + 1) * n / group.size)
    }

    /// Runs `body`; under a process group an error ends the whole job naming this rank
    /// (the others would otherwise wait for it forever in their next collective).
    package static func run<R>(_ body: () throws -> R) rethrows -> R {
        guard let group = current else { return try body() }
        do { return try body() } catch { group.abort(error) }
    }
}

extension ProcessGroup {
    package func allreduceSum(_ values: inout [Double]) throws { try values.withUnsafeMutableBufferPointer { try allreduceSum($0) } }
    package func allreduceMax(_ values: inout [Double]) throws { try values.withUnsafeMutableBufferPointer { try allreduceMax($0) } }

    /// Rank `root`'s tensors' values, into every rank's tensors of the same shapes.
    package func broadcast(_ tensors: [Tensor], root: Int = 0) throws -> [Tensor] {
        var bytes = [UInt8]()
        for t in tensors { t.withUnsafeRawBytes { bytes.append(contentsOf: $0) } }
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
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
    package func broadcast(_ values: [Int], root: Int = 0) throws -> [Int] {
        var v = values.map { Int64($0) }
        try v.withUnsafeMutableBytes { try broadcast($0, root: root) }
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

extension Model {
    /// Every rank starts from rank 0's weights and optimizer state (slots and iteration
    /// count); ranks other than 0 then draw from a generator of their own, so their Dropout
    /// masks differ (the epoch's sample order always comes from rank 0).
    func synchronizeFromRankZero(_ group: ProcessGroup, optimizer: Optimizer) throws {
        let all = weights
        for (v, value) in zip(all, try group.broadcast(all.map(\.value))) { v.value = value }
        let trained = variablesToTrain
        let hasSlots = trained.contains { optimizer.slots[ObjectIdentifier($0)] != nil }
        let header = try group.broadcast([optimizer.iterations, hasSlots ? 1 : 0])
        optimizer.iterations = header[0]
        if header[1] == 1 && optimizer.slotCount > 0 {
            let slots = trained.map { v in
                optimizer.slots[ObjectIdentifier(v)] ?? (0..<optimizer.slotCount).map { _ in Tensor.zeros(v.shape, dtype: v.value.dtype) }
            }
            let shared = try group.broadcast(slots.flatMap { $0 })
            for (i, v) in trained.enumerated() {
                optimizer.slots[ObjectIdentifier(v)] = Array(shared[(i * optimizer.slotCount)..<((i + 1) * optimizer.slotCount)])
            }
        }
        if group.rank != 0 && synchronizedWith !== group {
            GlobalRandom.with { rng in rng = RandomGenerator(seed: rng.next() ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(group.rank))) }
        }
        synchronizedWith = group
    }

    /// The moving statistics of BatchNormalization layers: each rank normalizes with its own
    /// shard's batch statistics (as TensorFlow's MirroredStrategy and PyTorch's DDP without
    /// SyncBatchNorm), and the moving averages are averaged across ranks after every step.
    var movingStatistics: [Variable] {
        func collect(_ layer: Layer) -> [Variable] {
            (layer is BatchNormalization ? layer.ownWeights.filter { !$0.trainable } : []) + layer.sublayers.flatMap(collect)
        }
        return layers.flatMap(collect)
    }

    /// One step's exchange: this rank's gradients weighted by its share of the global batch
    /// (so uneven shards still give the global batch's mean), its weighted loss and its
    /// moving statistics, summed across ranks in the same buckets.
    func synchronizeStep(_ group: ProcessGroup, gradients: [Tensor], loss: Double, parts: [Double],
                         share: Double) throws -> (gradients: [Tensor], loss: Double, parts: [Double]) {
        let stats = movingStatistics
        let values = Tensor(shape: [1 + parts.count], scalars: [loss] + parts)
        let summed = try group.allreduceSum(gradients + stats.map(\.value) + [values],
                                            scales: [Double](repeating: share, count: gradients.count)
                                                + [Double](repeating: 1 / Double(group.size), count: stats.count) + [share],
                                            dtype: dtype)
        for (v, value) in zip(stats, summed[gradients.count..<(gradients.count + stats.count)]) {
            v.value = value.cast(to: v.value.dtype)
        }
        let reduced = summed.last!.scalarsAsDouble()
        return (Array(summed[0..<gradients.count]), reduced[0], Array(reduced.dropFirst()))
    }

    /// Every rank must read the same global batches (rank 0 sends the tensor path's order;
    /// a dataset must shuffle with a seed). Checked on each epoch's first batch.
    func checkSameBatches(_ x: Tensor, _ group: ProcessGroup) throws {
        let mine = [Double(x.shape[0]), x.scalarsAsDouble().enumerated().reduce(0) { $0 + $1.element * Double($1.offset % 7 + 1) }]
        var first = mine
        try first.withUnsafeMutableBytes { try group.broadcast($0, root: 0) }
        var differs = [first == mine ? 0.0 : 1.0]
        try group.allreduceMax(&differs)
        if differs[0] != 0 {
            let who = first == mine ? "another rank's" : "rank \(group.rank)'s"
            throw LaminaError.configuration("DataParallel: the ranks read different batches (\(who) first batch of the epoch "
                + "differs from rank 0's); shuffle datasets with a seed so that every rank reads the same global batches")
        }
    }

    /// The compiled metrics' values over every rank's data: their states summed across ranks
    /// (the local states are left as they are).
    func globalMetricValues(_ group: ProcessGroup) throws -> [String: Double] {
        let local = compiledMetrics.map(\.state)
        var lengths = local.map { Double($0.count) }
        try group.allreduceMax(&lengths)
        var flat = zip(local, lengths).flatMap { state, n in state + [Double](repeating: 0, count: Int(n) - state.count) }
        try group.allreduceSum(&flat)
        var out = [String: Double]()
        var offset = 0
        for (metric, (key, n)) in zip(compiledMetrics, zip(metricKeys, lengths.map { Int($0) })) {
            let mine = metric.state
            metric.state = Array(flat[offset..<(offset + n)])
            out[key] = metric.result()
            metric.state = mine
            offset += n
        }
        return out
    }
}
