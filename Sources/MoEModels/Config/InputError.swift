import TensorCore

/// An error caused by what the user gave ExpertLock (a file, an argument, a data row), as opposed
/// to a bug or an environment failure. The command line maps these to exit code 2 and prints
/// `description`, which must name the file (or argument) and the problem in one line.
public protocol InputError: Error, CustomStringConvertible {}

/// Optimizer state that does not fit the model comes from a checkpoint the user gave.
extension OptimizerError: InputError {}
