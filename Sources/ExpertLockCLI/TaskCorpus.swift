import ExpertLock
import Foundation
import MoEModels

/// Turns a command's data arguments into token sequences for attribution: language-model text cut
/// into `context`-token sequences, or ids given directly.
enum TaskCorpus {
    static func sequences(
        model: ModelOptions, task: TaskName, data: String?, ids: String?, format: DataFormat, context: Int, limit: Int?
    ) throws -> [[Int]] {
        guard context >= 2 else { throw ArgumentInputError("--context must be at least 2") }
        if let ids {
            let all = try TokenIdsFile.read(ids)
            return Array(CorpusBatches.chunks(all, length: context).prefix(limit ?? .max))
        }
        guard let data else { throw ArgumentInputError("pass --data FILE or --ids FILE") }
        let url = URL(fileURLWithPath: data)
        let tokenizer = try model.tokenizer()
        switch task {
        case .perplexity:
            let text = try PlainTextReader.wholeText(of: url)
            let all = tokenizer.encode(text)
            return Array(CorpusBatches.chunks(all, length: context).prefix(limit ?? .max))
        case .classify, .summarize:
            throw ArgumentInputError("--task \(task.rawValue) for attribution is not available in this build")
        }
    }
}
