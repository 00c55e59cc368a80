import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// Runs a command body, mapping input errors to exit code 2 with a one-line message on stderr and
/// any other error to exit code 1 (the contract in CLI.md). File-system failures (permission
/// denied, disk full, a missing folder) exit with 2 too, named by `output` (the path the user gave
/// for the command's output, where the failed write was going; a state or temporary file beside
/// it is the command's business, not the user's) or else by the path the error names.
func runReportingErrors(output: String? = nil, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as InputError {
        Console.error("error: \(error.description)")
        throw ExitCode(2)
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        // File-system failures (permission denied, disk full) are the user's environment: exit 2
        // with the path and the cause, as `OutputDirectory.write` reports them on the output.
        if let cause = FileSystemFailure.cause(of: error) {
            let path = FileSystemFailure.userPath(for: FileSystemFailure.path(of: error), output: output)
            Console.error("error: \(path.map { "\($0): cannot write: " } ?? "")\(cause)")
            throw ExitCode(2)
        }
        Console.error("error: \(error)")
        throw ExitCode(1)
    }
}

/// Progress and logs go to stderr; stdout is reserved for results (one JSON object with --json).
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func progress(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Prints one JSON object on stdout.
    static func printJSON(_ object: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// Prints an Encodable value as one JSON object on stdout.
    static func printJSON<T: Encodable>(encodable value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        FileHandle.standardOutput.write(try encoder.encode(value))
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

/// A bad command-line value that is only detected after parsing (a file that does not exist, a
/// malformed ids file): exit code 2.
struct ArgumentInputError: InputError {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Options shared by commands that emit results.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object on stdout (progress goes to stderr).")
    var json = false
}

/// Refuses an output folder that is an input, holds an input, or lies inside an input folder:
/// `--overwrite` deletes the output before writing, and a derived folder written inside a model
/// folder changes that model. Paths are compared after resolving symbolic links.
func refuseOutputOverlappingInputs(_ out: String, inputs: [String?]) throws {
    func resolved(_ path: String) -> String { OutputDirectory.resolvedPath(URL(fileURLWithPath: path)) }
    let outPath = resolved(out)
    for case let input? in inputs {
        let path = resolved(input)
        if path == outPath || path.hasPrefix(outPath + "/") || outPath.hasPrefix(path + "/") {
            throw OutputError.isInput(out)
        }
    }
}
