import Foundation
import MoEModels
import TensorCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one path by which a file-system failure (permission denied, disk full, read-only volume)
/// reaches the user: exit code 2 (the user's path or disk is the problem, not ExpertLock) with one
/// line naming the path the user gave and the cause as the operating system says it, never a
/// hidden temporary name (`.pruned.tmp-…`) nor Foundation's `NSCocoaErrorDomain Code=513` text.
public struct FileSystemFailure: InputError, Equatable {
    /// The user's path: the output or input they named.
    public let path: String
    /// The cause, in the words of `strerror` ("Permission denied", "No space left on device").
    public let cause: String

    public init(path: String, cause: String) {
        self.path = path
        self.cause = cause
    }

    public var description: String { "\(path): cannot write: \(cause)" }

    /// The cause of `error` when it is a file-system error, else nil (a bug or an input error,
    /// which keep their own paths).
    public static func cause(of error: any Error) -> String? {
        switch error {
        case let error as AtomicWriteError: return error.reason
        case let error as FileCopyError: return error.reason
        case let error as CocoaError: return cocoaCause(error)
        case let error as POSIXError: return String(cString: strerror(error.code.rawValue))
        default:
            let ns = error as NSError
            if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
            return nil
        }
    }

    /// The path an error names, when it names one.
    public static func path(of error: any Error) -> String? {
        switch error {
        case let error as AtomicWriteError: return error.file
        case let error as FileCopyError: return error.file
        case let error as CocoaError:
            return error.filePath ?? error.url?.path ?? (error.userInfo[NSFilePathErrorKey] as? String)
        default: return nil
        }
    }

    /// The path to name for a failure on `path` in a command writing `output`: the output itself
    /// when `path` is it, lies inside it, is a folder on its way, or is one of its hidden working files beside it
    /// (`.NAME.tmp-…`, `.NAME.state`); otherwise `path` (an input, say), or `output` when the error
    /// names no path.
    public static func userPath(for path: String?, output: String?) -> String? {
        guard let output else { return path }
        guard let path else { return output }
        let out = URL(fileURLWithPath: output).standardizedFileURL
        let failed = URL(fileURLWithPath: path).standardizedFileURL.path
        let hiddenSibling = out.deletingLastPathComponent().appendingPathComponent("." + out.lastPathComponent).path
        if failed == out.path || failed.hasPrefix(out.path + "/") || failed.hasPrefix(hiddenSibling)
            || out.path.hasPrefix(failed + "/")  // a folder on the way to the output
        {
            return output
        }
        return path
    }

    /// `error` as a failure on `userPath` when it is a file-system error (else `error` itself).
    public static func mapping(_ error: any Error, to userPath: String) -> any Error {
        if error is any InputError { return error }
        guard let cause = cause(of: error) else { return error }
        return FileSystemFailure(path: userPath, cause: cause)
    }

    static func cocoaCause(_ error: CocoaError) -> String {
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if let posix = error.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        switch error.code {
        case .fileWriteNoPermission, .fileReadNoPermission: return String(cString: strerror(EACCES))
        case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
        case .fileWriteVolumeReadOnly: return String(cString: strerror(EROFS))
        case .fileNoSuchFile, .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
        case .fileWriteFileExists: return String(cString: strerror(EEXIST))
        default: return "file-system error \(error.code.rawValue)"
        }
    }
}
