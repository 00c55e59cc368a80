import Foundation
import Testing

@testable import ExpertLock

/// Inputs the fuzz targets for user files beside the model (fuzz/README.md) found hanging a
/// parser, kept verbatim under Fixtures/fuzz/<target>/.
struct FileFuzzRegressionTests {
    static func url(_ target: String, _ name: String) -> URL {
        Fixtures.packageRoot.appendingPathComponent("Tests/ExpertLockTests/Fixtures/fuzz/\(target)/\(name)")
    }

    /// Hang: a template of 11,142 `{` before its `{text}` took 12 s to render, each `{` searching
    /// for the next `}`. Rendering is now linear; the result is unchanged.
    @Test func templateOfElevenThousandOpenBracesRendersQuickly() throws {
        let template = try PromptTemplate.load(from: Self.url("prompt-template", "eleven-thousand-open-braces.json"))
        try template.validate(for: .sst2)
        let start = ContinuousClock.now
        let prompt = template.prompt(for: ClassificationExample(id: 0, text: "great {text} film"))
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(prompt == template.template.replacingOccurrences(of: "{text}", with: "great {text} film"))
    }

    @Test func substitutionKeepsUnknownAndUnclosedBraces() {
        let values = ["text": "T", "text_pair": "P"]
        #expect(PromptTemplate.substitute("{text}{text_pair}{tex}{text {}{{text}}", values) == "TP{tex}{text {}{T}")
        #expect(PromptTemplate.substitute("{", values) == "{")
        #expect(PromptTemplate.substitute("a{text}", ["text": "{text}"]) == "a{text}")
    }
}
