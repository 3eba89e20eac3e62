import Foundation

/// A value shared across threads behind a pthread mutex (`NSLock`). Lamina uses this rather
/// than `Synchronization.Mutex` because ThreadSanitizer models pthread mutexes on Linux but
/// not `Mutex`'s futex, and would report the hand-offs it orders as races.
package final class Locked<Value>: @unchecked Sendable {   // `value` is only touched with `lock` held
    private let lock = NSLock()
    private var value: Value
    package init(_ value: Value) { self.value = value }
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
