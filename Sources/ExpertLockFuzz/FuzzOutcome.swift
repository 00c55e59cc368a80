import Foundation
import MoEModels
import TensorCore

/// What one input did to a parser.
enum FuzzOutcome: Equatable {
    /// Parsed (and passed the target's invariants).
    case accepted
    /// Refused with an `InputError`: the expected answer to a bad file. The signature (error
    /// type, case and message shape) is the fuzzer's only feedback: a new one means a new path.
    case refused(signature: String)
    /// Refused with an error that is not an `InputError`: the command line would report it as
    /// an internal failure (exit 1) instead of a bad file (exit 2). Reported, not fatal.
    case unexpectedError(signature: String, description: String)
    /// An invariant of an accepted input failed: a bug.
    case violation(String)

    /// Runs `target` on `data` and classifies how it ended (crashes end the process instead).
    static func of(_ target: FuzzTarget, _ data: Data, _ scratch: FuzzScratch) -> FuzzOutcome {
        do {
            try target.parse(data, scratch)
            return .accepted
        } catch let violation as InvariantViolation {
            return .violation(violation.description)
        } catch let error as InputError {
            return .refused(signature: signature(of: error))
        } catch {
            return .unexpectedError(signature: signature(of: error), description: "\(error)")
        }
    }

    /// Type and case of an error plus the wording of its message with what came from the input
    /// removed (quoted names, values and key paths, lists, numbers, paths), so that one kind of refusal has one
    /// signature: "SafeTensorsError.byteCountMismatch: tensor needs bytes but its data_offsets span".
    static func signature(of error: Error) -> String {
        let kind = Mirror(reflecting: error).children.first?.label.map { ".\($0)" } ?? ""
        var message = "\(error)".replacing(#/'[^']*'|"[^"]*"|`[^`]*`|\[[^\]]*\]|\([^)]*\)/#, with: "")
            .split(separator: " ")
        if message.first?.hasSuffix(":") == true { message.removeFirst() }  // the file name
        let words = message.filter { word in
            !word.contains(where: { $0.isNumber || "/'\"[]()".contains($0) })
        }
        return "\(type(of: error))\(kind): " + words.prefix(10).joined(separator: " ")
    }

    var isBug: Bool { if case .violation = self { true } else { false } }
}
