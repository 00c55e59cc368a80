import Foundation
import MoEModels
import TensorCore

/// A data file that cannot be used as given; the description names the file (and line) and the
/// problem, so the command line can print it as is and exit with code 2.
public enum DatasetError: InputError, Equatable {
    case unreadable(file: String, reason: String)
    case notUTF8(file: String)
    /// A row (or the header) that does not fit the format: wrong column count, unknown label,
    /// invalid JSON, missing key.
    case malformed(file: String, line: Int, problem: String)
    /// A token ids file (`TokenIdsFile`) that is not a list of integers.
    case invalidTokenIds(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "\(file): cannot read the file (\(reason))"
        case .notUTF8(let file): "\(file): not valid UTF-8 text"
        case .malformed(let file, let line, let problem): "\(file):\(line): \(problem)"
        case .invalidTokenIds(let file, let reason): "\(file): token ids file: \(reason)"
        }
    }
}
