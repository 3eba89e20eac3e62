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
    private static let lock = NSLock()
    nonisolated(unsafe) private static var openFiles = 0   // guarded by `lock`
    private let id: hid_t
    let name: String
    /// The most elements Lamina reads from one dataset (2^31: 8 GiB of float32).
    static let maximumElements = 1 << 31

    init(image: [UInt8], name: String) throws {
        Self.lock.lock(); defer { Self.lock.unlock() }
        self.name = name
        lamina_h5_silence()
        let access = H5Pcreate(lamina_h5p_file_access())
        guard access >= 0 else { throw LaminaError(.io, "\(name): HDF5 could not create a file access list") }
        defer { H5Pclose(access) }
        guard H5Pset_fapl_core(access, 1 << 16, false) >= 0,
              image.withUnsafeBytes({ H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }) >= 0
        else { throw LaminaError(.io, "\(name): HDF5 could not take the file image") }
        let file = H5Fopen(name, lamina_h5f_acc_rdonly(), access)
        guard file >= 0 else {
            if Self.openFiles == 0 { H5close() }
            throw LaminaError(.io, "\(name) is not a readable HDF5 file")
        }
        id = file
        Self.openFiles += 1
    }

    deinit {
        Self.lock.lock(); defer { Self.lock.unlock() }
        H5Fclose(id)
        Self.openFiles -= 1
        // Shut the library down while nothing is open, rather than in its exit handler, which
        // otherwise (Debian's 1.10) now and then reports "infinite loop closing library".
        if Self.openFiles == 0 { H5close() }
    }

    /// Whether `path` (`"layers/dense/vars"`) names an object; each step is checked, as
    /// `H5Lexists` demands.
    func exists(_ path: String) -> Bool {
        Self.lock.lock(); defer { Self.lock.unlock() }
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            guard H5Lexists(id, prefix, lamina_h5p_default()) > 0 else { return false }
        }
        return true
    }

    /// The number of members of the group at `path`.
    func memberCount(_ path: String) throws -> Int {
        Self.lock.lock(); defer { Self.lock.unlock() }
        let group = H5Gopen2(id, path, lamina_h5p_default())
        guard group >= 0 else { throw LaminaError(.io, "\(name): \(path) is not a group") }
        defer { H5Gclose(group) }
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0, info.nlinks < 1 << 20 else { throw LaminaError(.io, "\(name): cannot list \(path)") }
        return Int(info.nlinks)
    }

    /// A floating-point dataset as a float32 tensor.
    func floats(_ path: String) throws -> Tensor {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(path): \(why)") }
        Self.lock.lock(); defer { Self.lock.unlock() }
        let dataset = H5Dopen2(id, path, lamina_h5p_default())
        guard dataset >= 0 else { throw fail("no such dataset") }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw fail("unreadable type") }
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_FLOAT else { throw fail("not a floating-point dataset") }
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw fail("unreadable shape") }
        defer { H5Sclose(space) }
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
