import CLaminaHDF5
import Foundation
import Lamina

/// A read-only HDF5 file opened from bytes in memory (HDF5's "core" driver), with the few
/// reads a Keras weights file needs: which groups exist, how many members a group has, and
/// float datasets. HDF5's own parser (libhdf5) reads the bytes; Lamina checks every rank,
/// size and type it reports before allocating.
///
/// Debian's libhdf5 is built without thread safety, so every call goes through one lock:
/// two models loading at once (tests run in parallel) would otherwise corrupt its state.
final class HDF5File {
    /// The lock every libhdf5 call goes through, holding the number of open files.
    static let library = Locked(0)
    private let id: hid_t
    let name: String
    /// The most elements Lamina reads from one dataset (2^31: 8 GiB of float32).
    static let maximumElements = 1 << 31

    init(image: [UInt8], name: String) throws {
        self.name = name
        id = try Self.library.withLock { openFiles in
            lamina_h5_silence()
            let access = H5Pcreate(lamina_h5p_file_access())
            guard access >= 0 else { throw LaminaError(.io, "\(name): HDF5 could not create a file access list") }
            defer { H5Pclose(access) }
            guard H5Pset_fapl_core(access, 1 << 16, false) >= 0,
                  image.withUnsafeBytes({ H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }) >= 0
            else { throw LaminaError(.io, "\(name): HDF5 could not take the file image") }
            let file = H5Fopen(name, lamina_h5f_acc_rdonly(), access)
            guard file >= 0 else {
                if openFiles == 0 { H5close() }
                throw LaminaError(.io, "\(name) is not a readable HDF5 file")
            }
            openFiles += 1
            return file
        }
    }

    deinit {
        Self.library.withLock { openFiles in
            H5Fclose(id)
            openFiles -= 1
            // Shut the library down while nothing is open, rather than in its exit handler, which
            // otherwise (Debian's 1.10) now and then reports "infinite loop closing library".
            if openFiles == 0 { H5close() }
        }
    }

    /// Whether `path` (`"layers/dense/vars"`) names an object; each step is checked, as
    /// `H5Lexists` demands.
    func exists(_ path: String) -> Bool {
        Self.library.withLock { _ -> Bool in
            var prefix = ""
            for part in path.split(separator: "/") {
                prefix += (prefix.isEmpty ? "" : "/") + part
                guard H5Lexists(id, prefix, lamina_h5p_default()) > 0 else { return false }
            }
            return true
        }
    }

    /// The number of members of the group at `path`.
    func memberCount(_ path: String) throws -> Int {
        try Self.library.withLock { _ -> Int in
            let group = H5Gopen2(id, path, lamina_h5p_default())
            guard group >= 0 else { throw LaminaError(.io, "\(name): \(path) is not a group") }
            defer { H5Gclose(group) }
            var info = H5G_info_t()
            guard H5Gget_info(group, &info) >= 0, info.nlinks < 1 << 20 else { throw LaminaError(.io, "\(name): cannot list \(path)") }
            return Int(info.nlinks)
        }
    }

    /// Opens the dataset at `path` under the lock and hands `body` the dataset, its type class
    /// and its dataspace (all closed afterwards), with a `fail` that names the path.
    private func withDataset<R>(_ path: String,
                                _ body: (hid_t, H5T_class_t, hid_t, (String) -> LaminaError) throws -> R) throws -> R {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(path): \(why)") }
        return try Self.library.withLock { _ -> R in
            let dataset = H5Dopen2(id, path, lamina_h5p_default())
            guard dataset >= 0 else { throw fail("no such dataset") }
            defer { H5Dclose(dataset) }
            let type = H5Dget_type(dataset)
            guard type >= 0 else { throw fail("unreadable type") }
            defer { H5Tclose(type) }
            let space = H5Dget_space(dataset)
            guard space >= 0 else { throw fail("unreadable shape") }
            defer { H5Sclose(space) }
            return try body(dataset, H5Tget_class(type), space, fail)
        }
    }

    /// A scalar dataset of integers or floats (Keras's optimizer `iterations`, learning rate).
    func number(_ path: String) throws -> Double {
        try withDataset(path) { dataset, typeClass, space, fail in
            guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else { throw fail("not a number") }
            guard H5Sget_simple_extent_npoints(space) == 1 else { throw fail("not a scalar") }
            var value = 0.0
            guard H5Dread(dataset, lamina_h5t_native_double(), lamina_h5s_all(), lamina_h5s_all(), lamina_h5p_default(), &value) >= 0,
                  value.isFinite else { throw fail("HDF5 could not read the value") }
            return value
        }
    }

    /// A floating-point (or integer: Normalization's int64 `count`) dataset as a float32 tensor.
    func floats(_ path: String) throws -> Tensor {
        try withDataset(path) { dataset, typeClass, space, fail in
            guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else { throw fail("not a numeric dataset") }
            let rank = H5Sget_simple_extent_ndims(space)
            guard rank >= 0, rank <= 8 else { throw fail("rank \(rank) is not supported") }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw fail("unreadable dimensions") }
            var count = 1
            for d in dims {
                guard d <= UInt64(Self.maximumElements) else { throw fail("dimensions \(dims) are too large") }
                count *= Int(d)
                guard count <= Self.maximumElements else { throw fail("dimensions \(dims) are too large") }
            }
            let shape = dims.map { Int($0) }
            var status: herr_t = 0
            let tensor = Tensor.build(shape, as: Float.self) { out in
                guard let base = out.baseAddress else { return }
                status = H5Dread(dataset, lamina_h5t_native_float(), lamina_h5s_all(), lamina_h5s_all(), lamina_h5p_default(), base)
            }
            guard status >= 0 else { throw fail("HDF5 could not read the values") }
            return tensor
        }
    }
}

/// An HDF5 file written in memory (the core driver without a backing store) and handed back
/// as bytes: groups, float32 datasets, and int64 scalars — what a Keras weights file holds.
/// Shares `HDF5File`'s lock (libhdf5 is not thread-safe).
final class HDF5Writer {
    private let id: hid_t
    private let linkCreation: hid_t
    let name: String

    private init(name: String) throws {
        self.name = name
        lamina_h5_silence()
        let access = H5Pcreate(lamina_h5p_file_access())
        guard access >= 0 else { throw LaminaError(.io, "\(name): HDF5 could not create a file access list") }
        defer { H5Pclose(access) }
        guard H5Pset_fapl_core(access, 1 << 16, false) >= 0 else { throw LaminaError(.io, "\(name): HDF5 has no in-memory driver") }
        let file = H5Fcreate(name, lamina_h5f_acc_trunc(), lamina_h5p_default(), access)
        guard file >= 0 else { throw LaminaError(.io, "\(name): HDF5 could not create the file") }
        let lcpl = H5Pcreate(lamina_h5p_link_create())
        guard lcpl >= 0, H5Pset_create_intermediate_group(lcpl, 1) >= 0 else {
            H5Fclose(file)
            throw LaminaError(.io, "\(name): HDF5 could not create a link property list")
        }
        (id, linkCreation) = (file, lcpl)
    }

    /// The bytes of the file that `body` fills.
    static func image(name: String, _ body: (HDF5Writer) throws -> Void) throws -> [UInt8] {
        try HDF5File.library.withLock { openFiles -> [UInt8] in
            openFiles += 1
            defer {
                openFiles -= 1
                if openFiles == 0 { H5close() }
            }
            let writer = try HDF5Writer(name: name)
            defer { H5Pclose(writer.linkCreation); H5Fclose(writer.id) }
            try body(writer)
            guard H5Fflush(writer.id, H5F_SCOPE_GLOBAL) >= 0 else { throw LaminaError(.io, "\(name): HDF5 could not flush") }
            let size = H5Fget_file_image(writer.id, nil, 0)
            guard size > 0 else { throw LaminaError(.io, "\(name): HDF5 gave no file image") }
            var bytes = [UInt8](repeating: 0, count: size)
            guard bytes.withUnsafeMutableBytes({ H5Fget_file_image(writer.id, $0.baseAddress, size) }) == size else {
                throw LaminaError(.io, "\(name): HDF5 could not copy the file image")
            }
            return bytes
        }
    }

    /// Creates the group at `path` (and any missing parents).
    func group(_ path: String) throws {
        let g = H5Gcreate2(id, path, linkCreation, lamina_h5p_default(), lamina_h5p_default())
        guard g >= 0 else { throw LaminaError(.io, "\(name): cannot create group \(path)") }
        H5Gclose(g)
    }

    /// A float32 dataset at `path` (parents created) with the tensor's shape and values.
    func write(_ tensor: Tensor, at path: String) throws {
        let values = tensor.cast(to: .float32).asArray(Float.self)
        try dataset(path, shape: tensor.shape, fileType: lamina_h5t_ieee_f32le(), memoryType: lamina_h5t_native_float(), values)
    }

    /// An int64 scalar dataset (Keras's optimizer `iterations`).
    func write(int64 value: Int64, at path: String) throws {
        try dataset(path, shape: [], fileType: lamina_h5t_std_i64le(), memoryType: lamina_h5t_native_int64(), [value])
    }

    private func dataset<T>(_ path: String, shape: [Int], fileType: hid_t, memoryType: hid_t, _ values: [T]) throws {
        let dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        guard space >= 0 else { throw LaminaError(.io, "\(name): cannot describe \(path) \(shape)") }
        defer { H5Sclose(space) }
        let set = H5Dcreate2(id, path, fileType, space, linkCreation, lamina_h5p_default(), lamina_h5p_default())
        guard set >= 0 else { throw LaminaError(.io, "\(name): cannot create dataset \(path)") }
        defer { H5Dclose(set) }
        let status = values.withUnsafeBytes { H5Dwrite(set, memoryType, lamina_h5s_all(), lamina_h5s_all(), lamina_h5p_default(), $0.baseAddress) }
        guard status >= 0 else { throw LaminaError(.io, "\(name): cannot write \(path)") }
    }
}
