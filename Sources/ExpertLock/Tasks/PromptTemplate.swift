import Foundation
import MoEModels
import TensorCore

/// How a classification example is put to a language model, lm-evaluation-harness style: a prompt
/// built from the example's text(s), and one verbalizer (answer text) per label whose
/// log-likelihood after the prompt is the label's score.
///
/// Placeholders: `{text}` (SST-2 sentence, MNLI premise, QNLI question) and `{text_pair}` (MNLI
/// hypothesis, QNLI sentence). A template line that is exactly `{text_pair}` is dropped for examples
/// without a second text. Verbalizers start with a space, as the harness writes them, so that they
/// tokenize as a word following "Answer:".
public struct PromptTemplate: Sendable, Codable, Equatable {
    public var template: String
    /// One per label, in `ClassificationTask.labelNames` order.
    public var verbalizers: [String]

    public init(template: String, verbalizers: [String]) {
        self.template = template
        self.verbalizers = verbalizers
    }

    /// The harness's prompts for GLUE (`sst2`, `mnli`, `qnli` tasks) and a plain one for other tasks.
    public static func defaults(for task: ClassificationTask) -> PromptTemplate {
        switch task.name {
        case .sst2:
            return PromptTemplate(
                template: "{text}\nQuestion: Is this sentence positive or negative?\nAnswer:",
                verbalizers: [" negative", " positive"])
        case .mnli:
            // Label order entailment, neutral, contradiction (Hugging Face glue/mnli).
            return PromptTemplate(
                template: "{text}\nQuestion: {text_pair} True, False or Neither?\nAnswer:",
                verbalizers: [" True", " Neither", " False"])
        case .qnli:
            // Label order entailment, not_entailment.
            return PromptTemplate(
                template: "{text}\n{text_pair}\nQuestion: Does this response answer the question?\nAnswer:",
                verbalizers: [" yes", " no"])
        case .custom:
            return PromptTemplate(
                template: "{text}\n{text_pair}\nAnswer:", verbalizers: task.labelNames.map { " " + $0 })
        }
    }

    /// Reads a user template: a JSON object `{"template": "...", "verbalizers": ["...", ...]}`.
    public static func load(from url: URL) throws -> PromptTemplate {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PromptTemplateError.unreadable(file: file, reason: error.localizedDescription)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PromptTemplateError.malformed(file: file, problem: "not a JSON object")
        }
        guard let template = object["template"] as? String else {
            throw PromptTemplateError.malformed(file: file, problem: "\"template\" must be a string")
        }
        guard let verbalizers = object["verbalizers"] as? [String] else {
            throw PromptTemplateError.malformed(file: file, problem: "\"verbalizers\" must be an array of strings")
        }
        let unknown = Set(object.keys).subtracting(["template", "verbalizers"])
        if !unknown.isEmpty {
            throw PromptTemplateError.malformed(
                file: file, problem: "unknown key(s) \(unknown.sorted().map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        let result = PromptTemplate(template: template, verbalizers: verbalizers)
        if let problem = result.problem { throw PromptTemplateError.malformed(file: file, problem: problem) }
        return result
    }

    /// What makes the template unusable, if anything.
    var problem: String? {
        if !template.contains("{text}") { return "\"template\" has no {text} placeholder" }
        if verbalizers.count < 2 { return "\"verbalizers\" needs at least two entries, one per label" }
        if verbalizers.contains(where: \.isEmpty) { return "\"verbalizers\" has an empty entry" }
        if Set(verbalizers).count != verbalizers.count { return "\"verbalizers\" has duplicate entries" }
        return nil
    }

    /// Checks that the template has one verbalizer per label of `task`; `file` names the template
    /// file in the error.
    public func validate(for task: ClassificationTask, file: String? = nil) throws {
        if let problem { throw PromptTemplateError.malformed(file: file ?? "prompt template", problem: problem) }
        guard verbalizers.count == task.labelNames.count else {
            throw PromptTemplateError.labelCount(
                file: file, task: task.name.rawValue, labels: task.labelNames.count, verbalizers: verbalizers.count)
        }
    }

    /// The prompt of one example. Placeholders are replaced in one pass, so braces inside the
    /// example's text are never substituted again.
    public func prompt(for example: ClassificationExample) -> String {
        var lines = template.components(separatedBy: "\n")
        if example.textPair == nil { lines.removeAll { $0 == "{text_pair}" } }
        return PromptTemplate.substitute(
            lines.joined(separator: "\n"), ["text": example.text, "text_pair": example.textPair ?? ""])
    }

    /// Replaces each `{name}` whose name is in `values`; other braces stay as written.
    ///
    /// Linear in the template: each `{` is checked against the few names, never by searching
    /// for the next `}` (a template of 10,000 `{` took 12 s that way; found by fuzzing).
    static func substitute(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        var rest = template[...]
        let placeholders = values.sorted { $0.key < $1.key }.map { (token: $0.key + "}", value: $0.value) }
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let afterOpen = rest.index(after: open)
            if let match = placeholders.first(where: { rest[afterOpen...].hasPrefix($0.token) }) {
                out += match.value
                rest = rest[rest.index(afterOpen, offsetBy: match.token.count)...]
            } else {
                out.append("{")
                rest = rest[afterOpen...]
            }
        }
        return out + rest
    }
}

/// The prompt that asks a language model for a summary; the summary is generated after it.
public struct SummarizationPrompt: Sendable, Codable, Equatable {
    /// Placeholder `{document}`.
    public static let defaultTemplate = "{document}\nSummary:"

    public var template: String

    public init(template: String = SummarizationPrompt.defaultTemplate) {
        self.template = template
    }

    public func prompt(for example: SummarizationExample) -> String { prompt(document: example.document) }

    public func prompt(document: String) -> String {
        PromptTemplate.substitute(template, ["document": document])
    }
}

/// A prompt template that cannot be used; names the file when it came from one.
public enum PromptTemplateError: InputError, Equatable {
    case unreadable(file: String, reason: String)
    case malformed(file: String, problem: String)
    case labelCount(file: String?, task: String, labels: Int, verbalizers: Int)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "\(file): cannot read the prompt template (\(reason))"
        case .malformed(let file, let problem):
            return "\(file): \(problem)"
        case .labelCount(let file, let task, let labels, let verbalizers):
            return
                "\(file ?? "prompt template"): \(verbalizers) verbalizer(s) for "
                + "task \(task), which has \(labels) labels"
        }
    }
}
